package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// taskLog records what the handlers enqueue, in place of the queue: these
// tests drive the handlers one step at a time (the journeys in cmd/lokiz run
// the same flow through a real asynq server).
type taskLog struct {
	mu    sync.Mutex
	tasks []*asynq.Task
	fail  bool // every enqueue fails, as when Redis is down
}

func (l *taskLog) EnqueueContext(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return nil, context.DeadlineExceeded
	}
	l.tasks = append(l.tasks, t)
	return &asynq.TaskInfo{Type: t.Type()}, nil
}

// take removes and returns the recorded tasks of type typ.
func (l *taskLog) take(typ string) []*asynq.Task {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out, rest []*asynq.Task
	for _, t := range l.tasks {
		if t.Type() == typ {
			out = append(out, t)
		} else {
			rest = append(rest, t)
		}
	}
	l.tasks = rest
	return out
}

type aiBundle struct {
	store   *db.Store
	storage *storage.Local
	sim     *sim.Server
	rep     *replicate.Client
	log     *taskLog
	h       *AIHandler
	mux     *asynq.ServeMux
	owner   db.User // owns the source video
	user    db.User // runs the jobs
	source  db.Video
	imgKey  string
}

// newAIBundle wires the AI handler to a real simulator (behind the real
// replicate-go client), local storage served over HTTP so the simulator can
// fetch the inputs, and a cloned database with a finished source video and
// an image of the user's.
func newAIBundle(t *testing.T, opts sim.Options) *aiBundle {
	t.Helper()
	return newAIBundleWith(t, opts, nil, nil)
}

// newAIBundleWith is newAIBundle with front, when not nil, serving in front
// of the simulator as the provider the worker talks to, and outputs, when
// not nil, changing the output policy (which allows the provider's own
// origin, as the dev wiring does for its simulator).
func newAIBundleWith(t *testing.T, opts sim.Options, front func(sim http.Handler) http.Handler, outputs func(*replicate.OutputPolicy)) *aiBundle {
	t.Helper()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	var files http.Handler
	filesSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { files.ServeHTTP(w, r) }))
	t.Cleanup(filesSrv.Close)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: filesSrv.URL, SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	files = st.Handler()

	if opts.Latency.Starting == 0 {
		opts.Latency = sim.Latency{Starting: 20 * time.Millisecond, Processing: 200 * time.Millisecond}
	}
	s := sim.New(opts)
	provider := s.Handler()
	if front != nil {
		provider = front(provider)
	}
	simSrv := httptest.NewServer(provider)
	t.Cleanup(func() { simSrv.Close(); _ = s.Close() })
	policy := replicate.OutputPolicy{Simulator: simSrv.URL}
	if outputs != nil {
		outputs(&policy)
	}
	rep, err := replicate.New(replicate.Config{BaseURL: simSrv.URL + "/v1", Token: "test", MaxRetryAfter: 100 * time.Millisecond})
	require.NoError(t, err)
	catalog, err := replicate.LoadCatalog("")
	require.NoError(t, err)

	logger, _ := newLogger()
	rec := &taskLog{}
	tmp := t.TempDir()
	d := Deps{Store: store, Storage: st, Tasks: tasks.NewClient(rec), Logger: logger, Media: MediaConfig{TempDir: tmp},
		Replicate: rep, Catalog: catalog, AI: AIConfig{PollMin: 10 * time.Millisecond, PollMax: 50 * time.Millisecond, Outputs: policy}}
	b := &aiBundle{store: store, storage: st, sim: s, rep: rep, log: rec, h: NewAIHandler(d),
		owner: dbtest.CreateUser(t, store, dbtest.UserOpts{}), user: dbtest.CreateUser(t, store, dbtest.UserOpts{})}
	b.mux = asynq.NewServeMux()
	b.h.Register(b.mux)

	// The source: a finished 3 s video of the owner's, with audio.
	src := mediatest.Video(t, mediatest.VideoOptions{Duration: 3, Width: 320, Height: 240, Audio: true, FastStart: true})
	id := db.NewID()
	key := "videos/" + id.String() + ".mp4"
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"))
	b.source = dbtest.Video(t, store, dbtest.VideoOpts{ID: id, Owner: b.owner.ID, Title: "dance", DurationSeconds: 3})

	// The user's image: a frame of another clip, as a JPEG upload.
	frames, err := media.Frames(ctx, mediatest.Video(t, mediatest.VideoOptions{Duration: 1, Width: 200, Height: 200}), []float64{0.5}, filepath.Join(tmp, "img"))
	require.NoError(t, err)
	img, err := os.ReadFile(frames[0])
	require.NoError(t, err)
	b.imgKey = "images/" + b.user.ID.String() + "/face.jpg"
	require.NoError(t, st.Put(ctx, b.imgKey, bytes.NewReader(img), int64(len(img)), "image/jpeg"))
	return b
}

// newJob stores a job as the api does (credits taken, pending) and returns it.
func (b *aiBundle) newJob(t *testing.T, jobType, prompt string, mutate func(*lokiz.AIJobInput, *db.AIJobCreateParams)) db.AIJob {
	t.Helper()
	in := lokiz.AIJobInput{ImageKey: b.imgKey, Prompt: prompt, ModelPrompt: prompt}
	entry := b.h.catalog[jobType]
	p := db.AIJobCreateParams{
		ID: db.NewID(), UserID: b.user.ID, JobType: jobType, CreditsUsed: lokiz.JobBaseCost(jobType),
		Model: ptr(entry.Name()), Queue: tasks.QueueAI, DeadlineAt: ptr(time.Now().Add(time.Hour)),
	}
	switch jobType {
	case lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace:
		p.SourceVideoID, p.GlitchType = &b.source.ID, ptr(map[string]string{lokiz.JobGlitchAnimate: "animate", lokiz.JobGlitchReplace: "replace"}[jobType])
		in.VideoID = b.source.ID.String()
	case lokiz.JobStickerToReality:
		p.SourceVideoID, p.GlitchType = &b.source.ID, ptr("sticker_to_reality")
		in.VideoID, in.StartTime, in.EndTime, in.IsGlitch = b.source.ID.String(), ptr(1.0), ptr(2.0), true
	case lokiz.JobMusic:
		in.ImageKey, in.Duration = "", 2
	case lokiz.JobI2VTemplate:
		in.Template, in.Duration = "ai_hug", 5
	}
	if mutate != nil {
		mutate(&in, &p)
	}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	p.InputData = raw
	job, err := b.store.CreateAIJob(context.Background(), p)
	require.NoError(t, err)
	return job
}

// edges is the number of glitch edges to the bundle's source video.
func (b *aiBundle) edges(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM video_glitches WHERE original_video_id = $1", b.source.ID).Scan(&n))
	return n
}

func (b *aiBundle) job(t *testing.T, id uuid.UUID) db.AIJob {
	t.Helper()
	j, err := b.store.AIJobGet(context.Background(), id)
	require.NoError(t, err)
	return j
}

// drive runs the job's tasks the way the queue would, until it ends or the
// time is up: the run, then the polls it schedules (and any finalize).
func (b *aiBundle) drive(t *testing.T, id uuid.UUID) db.AIJob {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(id, tasks.QueueAI)))
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if j := b.job(t, id); lokiz.JobTerminal(j.Status) {
			return j
		}
		pending := append(b.log.take(tasks.TypeAIPoll), b.log.take(tasks.TypeAIFinalize)...)
		pending = append(pending, b.log.take(tasks.TypeAIRun)...)
		if len(pending) == 0 {
			t.Fatalf("job %s is %s and nothing is scheduled", id, b.job(t, id).Status)
		}
		time.Sleep(20 * time.Millisecond)
		for _, task := range pending {
			require.NoError(t, b.mux.ProcessTask(ctx, task))
		}
	}
	t.Fatalf("job %s did not end in time", id)
	return db.AIJob{}
}

// ledger checks the invariant (balance = ledger sum) and returns the user's
// usage and refund rows for the job.
func (b *aiBundle) ledger(t *testing.T, job db.AIJob) (usage, refund int) {
	t.Helper()
	ctx := context.Background()
	var credits, sum int64
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT u.credits, (SELECT coalesce(sum(credits),0) FROM credit_transactions WHERE user_id = u.id)
		FROM users u WHERE u.id = $1`, job.UserID).Scan(&credits, &sum))
	require.Equal(t, credits, sum, "users.credits equals the ledger sum")
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE idempotency_key = $1), count(*) FILTER (WHERE idempotency_key = $2)
		FROM credit_transactions`, "job:"+job.ID.String()+":usage", "job:"+job.ID.String()+":refund").Scan(&usage, &refund))
	return usage, refund
}

func TestAIGlitchCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	job := b.newJob(t, lokiz.JobGlitchAnimate, "neon", nil)
	require.Equal(t, int32(lokiz.InitialCredits-30), userCredits(t, b.store, b.user.ID))

	got := b.drive(t, job.ID)
	require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
	require.EqualValues(t, 100, got.Progress)
	require.NotNil(t, got.PredictionID)
	require.NotNil(t, got.VideoID)
	require.Equal(t, job.ID, *got.VideoID, "the result video has the job's id")

	// The result: our copy, probed and thumbnailed like an upload, private,
	// the caller's, pointing at its source.
	v, err := b.store.VideoGetByID(ctx, *got.VideoID)
	require.NoError(t, err)
	require.Equal(t, lokiz.VideoCompleted, v.Status)
	require.False(t, v.IsPublic, "private until published")
	require.Equal(t, b.user.ID, v.UserID)
	require.Equal(t, b.source.ID, *v.OriginalVideoID)
	require.NotNil(t, v.ThumbnailKey)
	require.Equal(t, "Glitch from dance", *v.Title)
	path := filepath.Join(t.TempDir(), "out.mp4")
	require.NoError(t, os.WriteFile(path, readObject(t, b.storage, *v.ObjectKey), 0o600))
	info, err := media.Probe(ctx, path)
	require.NoError(t, err)
	require.Equal(t, "h264", info.VideoCodec)
	require.Equal(t, *v.ObjectKey, *got.OutputKey)

	// The glitch edge, once; the source counts the glitch only once it is
	// published (glitch_count is what the glitch list shows).
	src, err := b.store.VideoGetByID(ctx, b.source.ID)
	require.NoError(t, err)
	require.EqualValues(t, 0, src.GlitchCount, "a private result is not counted")
	var edges int
	require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT count(*) FROM video_glitches WHERE glitch_video_id = $1 AND glitch_type = 'animate'", v.ID).Scan(&edges))
	require.Equal(t, 1, edges)

	// The owner of the source and the user are told.
	notes := b.log.take(tasks.TypeNotify)
	var kinds []string
	for _, n := range notes {
		p, err := tasks.ParseNotify(n)
		require.NoError(t, err)
		kinds = append(kinds, p.Type+":"+p.RecipientID.String())
	}
	require.Contains(t, kinds, "glitch:"+b.owner.ID.String())
	require.Contains(t, kinds, "ai_job:"+b.user.ID.String())

	usage, refund := b.ledger(t, got)
	require.Equal(t, 1, usage)
	require.Equal(t, 0, refund)

	// Every task again, as a second delivery: nothing changes.
	for _, task := range []*asynq.Task{tasks.NewAIRunTask(job.ID, tasks.QueueAI), tasks.NewAIPollTask(job.ID, tasks.QueueAI, 3, ""),
		tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI), tasks.NewAICancelTask(job.ID)} {
		require.NoError(t, b.mux.ProcessTask(ctx, task))
	}
	require.Equal(t, 1, b.edges(t))
	require.Equal(t, lokiz.JobCompleted, b.job(t, job.ID).Status)
	require.Len(t, b.sim.Predictions(), 1, "one prediction for the job")
	_, err = b.store.UpdateVideo(ctx, db.VideoUpdateParams{ID: v.ID, UserID: b.user.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	src, err = b.store.VideoGetByID(ctx, b.source.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, src.GlitchCount, "published, the glitch counts once")
}

func TestAIJobTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})

	t.Run("Music", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobMusic, "lofi", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		require.Nil(t, got.VideoID, "music makes no video")
		require.True(t, strings.HasPrefix(*got.OutputKey, "ai/"+job.ID.String()+"/output."), *got.OutputKey)
		wav := readObject(t, b.storage, *got.OutputKey)
		require.Greater(t, len(wav), 10_000)
		require.Equal(t, "RIFF", string(wav[:4]))
		require.Equal(t, "WAVE", string(wav[8:12]), "our copy is the model's WAV")
		p, _ := b.sim.Prediction(*got.PredictionID)
		require.Equal(t, "stereo-melody-large", p.Input["model_version"], "fixed catalog inputs are sent")
	})

	t.Run("Template", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobI2VTemplate, "a hug", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		v, err := b.store.VideoGetByID(ctx, *got.VideoID)
		require.NoError(t, err)
		require.Equal(t, "Template: ai_hug", *v.Title)
		require.Nil(t, v.OriginalVideoID)
		p, _ := b.sim.Prediction(*got.PredictionID)
		require.Contains(t, p.Input, "image")
		require.EqualValues(t, 5, p.Input["duration"])
	})

	t.Run("ReplaceSendsCharacterImage", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobGlitchReplace, "", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		p, _ := b.sim.Prediction(*got.PredictionID)
		require.Contains(t, p.Input, "character_image")
		require.Contains(t, p.Input, "video")
		require.NotContains(t, p.Input, "prompt", "an empty prompt is not sent")
	})

	t.Run("StickerIsSplicedBack", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobStickerToReality, "a cat", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		// The model got only the 1 s segment; the result is the whole 3 s
		// video with the segment replaced, with the source's audio.
		p, _ := b.sim.Prediction(*got.PredictionID)
		seg := fetchURL(t, p.Input["video"].(string))
		segPath := filepath.Join(t.TempDir(), "seg.mp4")
		require.NoError(t, os.WriteFile(segPath, seg, 0o600))
		segInfo, err := media.Probe(ctx, segPath)
		require.NoError(t, err)
		require.InDelta(t, 1.0, segInfo.Duration, 0.15)
		require.Contains(t, p.Input, "first_frame")

		v, err := b.store.VideoGetByID(ctx, *got.VideoID)
		require.NoError(t, err)
		require.InDelta(t, 3.0, v.DurationSeconds, 0.2)
		require.Equal(t, "aac", *v.AudioCodec)
		require.EqualValues(t, 320, *v.Width)
	})
}

func TestAIFailuresRefundOnce(t *testing.T) {
	t.Parallel()
	b := newAIBundle(t, sim.Options{})
	for _, tc := range []struct {
		name, prompt, status, message string
	}{
		{"ModelFails", "[sim:fail]", lokiz.JobFailed, "The AI model failed"},
		{"Aborted", "[sim:abort]", lokiz.JobFailed, "ran out of time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := b.newJob(t, lokiz.JobGlitchAnimate, tc.prompt, nil)
			got := b.drive(t, job.ID)
			require.Equal(t, tc.status, got.Status)
			require.Contains(t, *got.ErrorMessage, tc.message)
			require.Contains(t, *got.ErrorMessage, "refunded")
			require.Nil(t, got.VideoID)
			usage, refund := b.ledger(t, got)
			require.Equal(t, 1, usage)
			require.Equal(t, 1, refund)
			// Settling again (a late webhook, a retry) refunds nothing more.
			require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI)))
			require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewAIPollTask(job.ID, tasks.QueueAI, 9, "")))
			_, refund = b.ledger(t, got)
			require.Equal(t, 1, refund)
		})
	}
	require.Equal(t, int32(lokiz.InitialCredits), userCredits(t, b.store, b.user.ID))

	t.Run("ThrottledCreateSucceedsWithOnePrediction", func(t *testing.T) {
		before := len(b.sim.Predictions())
		job := b.newJob(t, lokiz.JobMusic, "storm [sim:429x3]", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		require.Len(t, b.sim.Predictions(), before+1)
	})

	t.Run("SourceGoneFailsWithRefund", func(t *testing.T) {
		gone := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.source.UserID, DurationSeconds: b.source.DurationSeconds}).ID
		job := b.newJob(t, lokiz.JobGlitchAnimate, "x", func(_ *lokiz.AIJobInput, p *db.AIJobCreateParams) {
			p.SourceVideoID = &gone
		})
		dbtest.EraseVideo(t, b.store, gone) // erased for good
		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
		got := b.job(t, job.ID)
		require.Equal(t, lokiz.JobFailed, got.Status)
		require.Contains(t, *got.ErrorMessage, "no longer available")
		_, refund := b.ledger(t, got)
		require.Equal(t, 1, refund)
	})
}

// TestAIRunCrashRecovery covers a worker that dies at each point of a run:
// after sending the create but before storing the prediction id, and after
// copying the output but before completing. The retry finds its earlier
// work: one prediction, one result video, one glitch.
func TestAIRunCrashRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})

	t.Run("BeforeThePredictionIDIsStored", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobGlitchAnimate, "crash", nil)
		// What Run does up to the crash: record the request, send it.
		spec, err := b.h.spec(ctx, job, b.h.catalog[job.JobType])
		require.NoError(t, err)
		raw, _ := json.Marshal(spec.Input)
		n, err := b.store.AIJobRecordRequest(ctx, db.AIJobRecordRequestParams{ID: job.ID, Request: raw})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		orphan, err := b.rep.Create(ctx, spec)
		require.NoError(t, err)
		before := len(b.sim.Predictions())

		got := b.drive(t, job.ID) // the retry
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		require.Equal(t, orphan.ID, *got.PredictionID, "the retry adopted the prediction it had sent")
		require.Len(t, b.sim.Predictions(), before, "no second prediction")
	})

	// Found by the chaos suite: text-only inputs are not unique, so a retry
	// adopted the prediction of another job with the same prompt, its store
	// hit ai_jobs_prediction_key, and the job never started.
	t.Run("SamePromptAsAnotherJob", func(t *testing.T) {
		first := b.newJob(t, lokiz.JobMusic, "lofi beat", nil)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(first.ID, tasks.QueueAI)))
		first = b.job(t, first.ID)
		require.NotNil(t, first.PredictionID)

		// The second job with the same prompt recorded its request and died
		// before sending it.
		second := b.newJob(t, lokiz.JobMusic, "lofi beat", nil)
		spec, err := b.h.spec(ctx, second, b.h.catalog[second.JobType])
		require.NoError(t, err)
		raw, _ := json.Marshal(spec.Input)
		n, err := b.store.AIJobRecordRequest(ctx, db.AIJobRecordRequestParams{ID: second.ID, Request: raw})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(second.ID, tasks.QueueAI)), "the retry starts")
		got := b.job(t, second.ID)
		require.NotNil(t, got.PredictionID)
		require.NotEqual(t, *first.PredictionID, *got.PredictionID, "not the other job's prediction")
		require.Equal(t, lokiz.JobCompleted, b.drive(t, second.ID).Status)
		require.Equal(t, lokiz.JobCompleted, b.drive(t, first.ID).Status)
	})

	t.Run("AfterTheOutputIsStored", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobGlitchReplace, "crash later", nil)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
		job = b.job(t, job.ID)
		require.Eventually(t, func() bool {
			p, err := b.rep.Get(ctx, *job.PredictionID)
			return err == nil && p.Status == replicate.StatusSucceeded
		}, 30*time.Second, 20*time.Millisecond)
		p, err := b.rep.Get(ctx, *job.PredictionID)
		require.NoError(t, err)
		// The first attempt copied the output and created the result video,
		// then died.
		keys, err := b.h.copyOutputs(ctx, job, p, kindVideo, 0)
		require.NoError(t, err)
		_, err = b.store.AIResultVideoCreate(ctx, db.AIResultVideoCreateParams{ID: job.ID, UserID: job.UserID, Title: ptr("t"), UploadKey: &keys[0], OriginalVideoID: job.SourceVideoID})
		require.NoError(t, err)
		before := b.edges(t)

		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI)))
		got := b.job(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		require.Equal(t, before+1, b.edges(t))
		usage, refund := b.ledger(t, got)
		require.Equal(t, []int{1, 0}, []int{usage, refund})
	})
}

// TestAIRepeatAfterTheProviderDeletedTheOutput: a settle that died after
// the result video was finished, repeated once Replicate deleted its files,
// completes from our copy instead of failing on the expired URL.
func TestAIRepeatAfterTheProviderDeletedTheOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{OutputTTL: 300 * time.Millisecond})
	job := b.newJob(t, lokiz.JobGlitchAnimate, "expiring", nil)
	got := b.drive(t, job.ID)
	require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
	// Back to before the completion committed.
	dbtest.UncompleteAIJob(t, b.store, job.ID)
	time.Sleep(400 * time.Millisecond)
	resp, err := http.Get(mustOutputURL(t, b, *got.PredictionID))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusGone, resp.StatusCode, "the provider's copy is gone")

	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI)))
	again := b.job(t, job.ID)
	require.Equal(t, lokiz.JobCompleted, again.Status, "error: %v", again.ErrorMessage)
	_, refund := b.ledger(t, again)
	require.Zero(t, refund)
	require.Equal(t, 1, b.edges(t))
}

func mustOutputURL(t *testing.T, b *aiBundle, predictionID string) string {
	t.Helper()
	p, err := b.rep.Get(context.Background(), predictionID)
	require.NoError(t, err)
	urls := p.OutputURLs()
	require.NotEmpty(t, urls)
	return urls[0]
}

// TestAICancelRaces runs a cancel (the api's EndAIJob) against the worker
// settling a finished prediction, many times: each job ends in exactly one
// state, and the refund exists exactly when it ended canceled.
func TestAICancelRaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	outcomes := map[string]int{}
	// The cancel lands at different points of the settle: before it starts,
	// while the output is stored or probed, after it committed.
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, 80 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second} {
		job := b.newJob(t, lokiz.JobGlitchAnimate, "race", nil)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
		job = b.job(t, job.ID)
		require.Eventually(t, func() bool {
			p, err := b.rep.Get(ctx, *job.PredictionID)
			return err == nil && p.Status.Terminal()
		}, 30*time.Second, 20*time.Millisecond)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = b.mux.ProcessTask(ctx, tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI))
		}()
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			_, _, _ = b.store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobCanceled, CanceledByUser: true, ErrorMessage: "Canceled"})
		}()
		wg.Wait()
		got := b.job(t, job.ID)
		outcomes[got.Status]++
		_, refund := b.ledger(t, got)
		src, err := b.store.VideoGetByID(ctx, job.ID)
		switch got.Status {
		case lokiz.JobCanceled:
			require.Equal(t, 1, refund)
			if err == nil {
				require.NotNil(t, src.DeletedAt, "a canceled job's result is never shown")
			}
		case lokiz.JobCompleted:
			require.Equal(t, 0, refund)
			require.NoError(t, err)
			require.Nil(t, src.DeletedAt)
		default:
			t.Fatalf("job ended %s", got.Status)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	require.Equal(t, outcomes[lokiz.JobCompleted], b.edges(t), "a glitch edge exists exactly for each completed job")
}

func TestAICancelPendingAndProcessing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{Latency: sim.Latency{Starting: 10 * time.Millisecond, Processing: 200 * time.Millisecond, Slow: time.Minute}})

	t.Run("PendingCreatesNothing", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobMusic, "x", nil)
		_, ended, err := b.store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobCanceled, CanceledByUser: true})
		require.NoError(t, err)
		require.True(t, ended)
		before := len(b.sim.Predictions())
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)), "a run that was not deleted in time")
		require.Len(t, b.sim.Predictions(), before, "a canceled job never gets a prediction")
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAICancelTask(job.ID)))
	})

	t.Run("ProcessingCancelsThePrediction", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobGlitchAnimate, "[sim:slow]", nil)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
		job = b.job(t, job.ID)
		require.Equal(t, lokiz.JobProcessing, job.Status)
		_, ended, err := b.store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobCanceled, CanceledByUser: true})
		require.NoError(t, err)
		require.True(t, ended)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAICancelTask(job.ID)))
		p, err := b.rep.Get(ctx, *job.PredictionID)
		require.NoError(t, err)
		require.Equal(t, replicate.StatusCanceled, p.Status)
		// The poll that was scheduled finds the job ended and stops.
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIPollTask(job.ID, tasks.QueueAI, 1, "")))
		got := b.job(t, job.ID)
		require.Equal(t, lokiz.JobCanceled, got.Status)
		_, refund := b.ledger(t, got)
		require.Equal(t, 1, refund)
	})

	t.Run("RunRacingACancelCancelsWhatItCreated", func(t *testing.T) {
		job := b.newJob(t, lokiz.JobMusic, "[sim:slow]", nil)
		// The run got as far as creating the prediction when the cancel
		// committed: storing the id fails, and the run cancels it.
		spec, err := b.h.spec(ctx, job, b.h.catalog[job.JobType])
		require.NoError(t, err)
		p, err := b.rep.Create(ctx, spec)
		require.NoError(t, err)
		_, _, err = b.store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobCanceled, CanceledByUser: true})
		require.NoError(t, err)
		require.NoError(t, b.h.started(ctx, job, p))
		got, err := b.rep.Get(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, replicate.StatusCanceled, got.Status)
		require.Nil(t, b.job(t, job.ID).PredictionID)
	})
}

// TestAIReconcileResumesLostTasks loses every queued task of open jobs (as
// a Redis restart without persistence does) and lets the reconciler bring
// them back: the jobs still end, each once.
func TestAIReconcileResumesLostTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	pending := b.newJob(t, lokiz.JobMusic, "lost run", nil)
	running := b.newJob(t, lokiz.JobMusic, "lost poll", nil)
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(running.ID, tasks.QueueAI)))
	b.log.take(tasks.TypeAIPoll) // Redis restarts: the poll is gone

	logger, _ := newLogger()
	rh := NewAIReconcileHandler(b.store, tasks.NewClient(b.log), logger)
	rh.now = func() time.Time { return time.Now().Add(AIStuckAfter + time.Second) }
	require.NoError(t, rh.ProcessTask(ctx, tasks.NewAIReconcileTask()))
	runs, polls := b.log.take(tasks.TypeAIRun), b.log.take(tasks.TypeAIPoll)
	require.Len(t, runs, 1)
	require.Len(t, polls, 1)
	for _, task := range append(runs, polls...) {
		require.NoError(t, b.mux.ProcessTask(ctx, task))
	}
	for _, id := range []uuid.UUID{pending.ID, running.ID} {
		got := b.driveScheduled(t, id)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
	}
	// Jobs touched by the reconciler are left alone for a while.
	rh.now = time.Now
	require.NoError(t, rh.ProcessTask(ctx, tasks.NewAIReconcileTask()))
	require.Empty(t, b.log.take(tasks.TypeAIRun))
}

// TestAIReconcileStuckAfter: AI_STUCK_AFTER shortens the reconciler's
// patience; a job untouched for less is left alone.
func TestAIReconcileStuckAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	b.newJob(t, lokiz.JobMusic, "lost run", nil)
	logger, _ := newLogger()
	rh := NewAIReconcileHandler(b.store, tasks.NewClient(b.log), logger).WithStuckAfter(10 * time.Second)
	rh.now = func() time.Time { return time.Now().Add(5 * time.Second) }
	require.NoError(t, rh.ProcessTask(ctx, tasks.NewAIReconcileTask()))
	require.Empty(t, b.log.take(tasks.TypeAIRun), "untouched for 5s of 10s: left alone")
	rh.now = func() time.Time { return time.Now().Add(11 * time.Second) }
	require.NoError(t, rh.ProcessTask(ctx, tasks.NewAIReconcileTask()))
	require.Len(t, b.log.take(tasks.TypeAIRun), 1, "untouched for 11s of 10s: resumed")
	require.Same(t, rh, rh.WithStuckAfter(0), "zero keeps the patience")
	require.Equal(t, 10*time.Second, rh.after)
}

// driveScheduled runs what is scheduled for open jobs until id ends.
func (b *aiBundle) driveScheduled(t *testing.T, id uuid.UUID) db.AIJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if j := b.job(t, id); lokiz.JobTerminal(j.Status) {
			return j
		}
		pending := append(b.log.take(tasks.TypeAIPoll), b.log.take(tasks.TypeAIFinalize)...)
		time.Sleep(20 * time.Millisecond)
		for _, task := range pending {
			require.NoError(t, b.mux.ProcessTask(context.Background(), task))
		}
	}
	t.Fatalf("job %s did not end in time", id)
	return db.AIJob{}
}

func TestAIDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{Latency: sim.Latency{Starting: 10 * time.Millisecond, Processing: 100 * time.Millisecond, Slow: time.Minute}})
	job := b.newJob(t, lokiz.JobMusic, "[sim:slow]", func(_ *lokiz.AIJobInput, p *db.AIJobCreateParams) {
		p.DeadlineAt = ptr(time.Now().Add(-time.Hour))
	})
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIPollTask(job.ID, tasks.QueueAI, 1, "")))
	got := b.job(t, job.ID)
	require.Equal(t, lokiz.JobFailed, got.Status)
	require.Contains(t, *got.ErrorMessage, "took too long")
	p, err := b.rep.Get(ctx, *got.PredictionID)
	require.NoError(t, err)
	require.Equal(t, replicate.StatusCanceled, p.Status, "the overdue prediction is stopped")
	_, refund := b.ledger(t, got)
	require.Equal(t, 1, refund)
}

// TestAIRetriesExhaustedFailsTheJob: while the provider cannot be reached
// the run is retried; on the last attempt the job fails with its refund
// instead of staying open.
func TestAIRetriesExhaustedFailsTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	logger, _ := newLogger()
	rep, err := replicate.New(replicate.Config{BaseURL: "http://127.0.0.1:1/v1", Token: "x", MaxRetries: -1})
	require.NoError(t, err)
	h := NewAIHandler(Deps{Store: b.store, Storage: b.storage, Tasks: tasks.NewClient(b.log), Logger: logger, Replicate: rep, Catalog: b.h.catalog})
	mux := asynq.NewServeMux()
	h.Register(mux)
	job := b.newJob(t, lokiz.JobMusic, "unreachable", nil)

	h.attempt = func(context.Context) (int, int) { return 2, 8 }
	require.Error(t, mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)), "retried by asynq")
	require.Equal(t, lokiz.JobPending, b.job(t, job.ID).Status)

	h.attempt = func(context.Context) (int, int) { return 8, 8 }
	require.Error(t, mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
	got := b.job(t, job.ID)
	require.Equal(t, lokiz.JobFailed, got.Status)
	require.Contains(t, *got.ErrorMessage, "could not be reached")
	_, refund := b.ledger(t, got)
	require.Equal(t, 1, refund)
}

func userCredits(t *testing.T, store *db.Store, id uuid.UUID) int32 {
	t.Helper()
	u, err := store.UserGetByID(context.Background(), id)
	require.NoError(t, err)
	return u.Credits
}

func readObject(t *testing.T, st storage.Store, key string) []byte {
	t.Helper()
	r, err := st.Open(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	require.NoError(t, err)
	return buf.Bytes()
}

func fetchURL(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return buf.Bytes()
}

// TestAIConcurrentSettles: the webhook's finalize and a poll settle the same
// finished prediction at once; the job completes once and its result stays.
func TestAIConcurrentSettles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAIBundle(t, sim.Options{})
	for range 3 {
		job := b.newJob(t, lokiz.JobGlitchAnimate, "twice", nil)
		require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewAIRunTask(job.ID, tasks.QueueAI)))
		job = b.job(t, job.ID)
		require.Eventually(t, func() bool {
			p, err := b.rep.Get(ctx, *job.PredictionID)
			return err == nil && p.Status.Terminal()
		}, 30*time.Second, 20*time.Millisecond)
		var wg sync.WaitGroup
		for _, task := range []*asynq.Task{tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI), tasks.NewAIPollTask(job.ID, tasks.QueueAI, 2, ""), tasks.NewAIFinalizeTask(job.ID, tasks.QueueAI)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = b.mux.ProcessTask(ctx, task)
			}()
		}
		wg.Wait()
		got := b.job(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status)
		v, err := b.store.VideoGetByID(ctx, *got.VideoID)
		require.NoError(t, err)
		require.Nil(t, v.DeletedAt, "the result of a completed job is kept")
		require.Equal(t, lokiz.VideoCompleted, v.Status)
	}
	require.Equal(t, 3, b.edges(t))
}
