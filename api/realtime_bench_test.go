package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/realtime"
)

// The socket benchmark's idle clients live in a child process (this test
// binary, started with wsBenchChildEnv set): their memory and file
// descriptors stay out of the server process being measured.
const wsBenchChildEnv = "LOKIZ_WS_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(wsBenchChildEnv) != "" {
		os.Exit(runIdleSocketClients())
	}
	os.Exit(m.Run())
}

// raiseNoFile lifts the soft open-files limit to the hard one.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// runIdleSocketClients opens LOKIZ_WS_BENCH_N sockets to the URL in
// LOKIZ_WS_BENCH_CHILD with the tokens of LOKIZ_WS_BENCH_TOKENS in turn,
// each a bare TCP connection after a hand-made handshake (no goroutine, no
// buffer), prints "ready", and holds them until stdin closes.
func runIdleSocketClients() int {
	if _, err := raiseNoFile(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	addr := os.Getenv(wsBenchChildEnv)
	tokens := strings.Split(os.Getenv("LOKIZ_WS_BENCH_TOKENS"), ",")
	n, _ := strconv.Atoi(os.Getenv("LOKIZ_WS_BENCH_N"))
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					continue
				}
				fmt.Fprintf(c, "GET /v1/notifications/ws?token=%s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
					"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", tokens[i%len(tokens)], addr)
				resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					errs <- fmt.Errorf("socket %d: %v %v", i, err, resp)
					c.Close()
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// BenchmarkNotificationSocket holds 10,000 idle sockets on one api (its
// own hub, real Postgres and Redis) and reports the server's memory per
// socket; then, with those sockets open, it publishes 1,000 notifications
// a second for 3 s to 100 reading sockets and reports the p99 from publish
// to the socket, against the p99 of a bare Redis publish → go-redis
// subscriber round trip at the same rate in the same run.
func BenchmarkNotificationSocket(b *testing.B) {
	const (
		idle     = 10000
		users    = 100
		readers  = 100
		rate     = 1000
		duration = 3 * time.Second
	)
	if _, err := raiseNoFile(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		e := newWSEnvWithStore(b, dbtest.NewStore(b), realtime.Config{
			MaxPerUser: idle, MaxConns: idle + readers + 10, SendBuffer: 256,
			PingInterval: 10 * time.Minute, SessionCheckInterval: 10 * time.Minute,
		}, nil)
		// users own the idle sockets (idle/users each); readers are other
		// users, one reading socket each, who receive the pushes.
		tokens := make([]string, users)
		for i := range users {
			tokens[i] = e.tokenFor(dbtest.CreateUser(b, e.store, dbtest.UserOpts{}).ID)
		}
		readerIDs := make([]uuid.UUID, readers)
		readerTokens := make([]string, readers)
		for i := range readers {
			readerIDs[i] = dbtest.CreateUser(b, e.store, dbtest.UserOpts{}).ID
			readerTokens[i] = e.tokenFor(readerIDs[i])
		}

		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), wsBenchChildEnv+"="+strings.TrimPrefix(e.srv.URL, "http://"),
			"LOKIZ_WS_BENCH_TOKENS="+strings.Join(tokens, ","), "LOKIZ_WS_BENCH_N="+strconv.Itoa(idle))
		stdin, err := child.StdinPipe()
		require.NoError(b, err)
		stdout, err := child.StdoutPipe()
		require.NoError(b, err)
		child.Stderr = os.Stderr
		require.NoError(b, child.Start())
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(b, err)
		require.Equal(b, "ready\n", line)
		require.Eventually(b, func() bool { return e.hub.Len() == idle }, 30*time.Second, 10*time.Millisecond)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		perSocket := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / idle
		goroutinesPer := float64(runtime.NumGoroutine()-goroutines) / idle

		// Push latency through the api's sockets.
		var mu sync.Mutex
		var pushLat []time.Duration
		var wg sync.WaitGroup
		ctx, cancel := context.WithCancel(context.Background())
		for i := range readers {
			ws := e.mustDial(readerTokens[i], "")
			readMsg(b, ws, 10*time.Second) // caught_up
			wg.Go(func() {
				for {
					_, raw, err := ws.Read(ctx)
					if err != nil {
						return
					}
					var ev notification.Event
					if json.Unmarshal(raw, &ev) != nil {
						continue
					}
					sent, _ := strconv.ParseInt(ev.Notification.Message, 10, 64)
					mu.Lock()
					pushLat = append(pushLat, time.Since(time.Unix(0, sent)))
					mu.Unlock()
				}
			})
		}
		published := publishAtRate(rate, duration, func(i int) {
			n := notification.Notification{ID: uuid.New(), Type: "system", Message: strconv.FormatInt(time.Now().UnixNano(), 10),
				CreatedAt: time.Now().UTC(), Seq: int64(i + 1)}
			_ = notification.Publish(context.Background(), e.rdb, readerIDs[i%readers], n, 1)
		})
		require.Eventually(b, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(pushLat) == published
		}, 20*time.Second, 10*time.Millisecond, "every push arrives")
		cancel()
		wg.Wait()

		// Baseline: the same publishes to a bare go-redis subscriber.
		channel := "lokiz:bench:" + uuid.NewString()
		sub := e.rdb.Subscribe(context.Background(), channel)
		_, err = sub.Receive(context.Background())
		require.NoError(b, err)
		var baseLat []time.Duration
		baseDone := make(chan struct{})
		go func() {
			defer close(baseDone)
			for msg := range sub.Channel() {
				var ev notification.Event
				if json.Unmarshal([]byte(msg.Payload), &ev) == nil {
					sent, _ := strconv.ParseInt(ev.Notification.Message, 10, 64)
					baseLat = append(baseLat, time.Since(time.Unix(0, sent)))
				}
			}
		}()
		basePublished := publishAtRate(rate, duration, func(i int) {
			n := notification.Notification{ID: uuid.New(), Type: "system", Message: strconv.FormatInt(time.Now().UnixNano(), 10),
				CreatedAt: time.Now().UTC(), Seq: int64(i + 1)}
			raw, _ := json.Marshal(notification.Event{Type: "notification", Notification: n, UnreadCount: 1})
			_ = e.rdb.Publish(context.Background(), channel, raw).Err()
		})
		require.Eventually(b, func() bool { return len(sub.Channel()) == 0 }, 5*time.Second, 10*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		_ = sub.Close()
		<-baseDone

		_ = stdin.Close()
		_ = child.Wait()

		require.Equal(b, basePublished, len(baseLat))
		p99, base99 := percentile(pushLat, 0.99), percentile(baseLat, 0.99)
		b.ReportMetric(perSocket, "B/socket")
		b.ReportMetric(goroutinesPer, "goroutines/socket")
		b.ReportMetric(float64(percentile(pushLat, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(base99.Microseconds())/1000, "redis-p99-ms")
		b.ReportMetric(float64(p99)/float64(base99), "x-redis-p99")
	}
}

// publishAtRate calls publish(i) rate times a second for d and returns how
// many it called.
func publishAtRate(rate int, d time.Duration, publish func(i int)) int {
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	n := int(d / interval)
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		publish(i)
	}
	return n
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
