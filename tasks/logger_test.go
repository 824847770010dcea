package tasks_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

func TestAsynqLogger(t *testing.T) {
	t.Parallel()

	t.Run("LevelsAndMessages", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l := tasks.NewAsynqLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
		l.Debug("d")
		l.Info("server ", "started")
		l.Warn("w", 1, 2)
		l.Error("e")

		type line struct{ Level, Msg string }
		var got []line
		for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			var ln line
			require.NoError(t, json.Unmarshal(raw, &ln))
			got = append(got, ln)
		}
		require.Equal(t, []line{
			{"DEBUG", "d"}, {"INFO", "server started"}, {"WARN", "w1 2"}, {"ERROR", "e"},
		}, got)
	})

	t.Run("HandlerLevelFilters", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l := tasks.NewAsynqLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
		l.Debug("hidden")
		l.Info("hidden")
		l.Warn("shown")
		require.NotContains(t, buf.String(), "hidden")
		require.Contains(t, buf.String(), "shown")
	})

	// Fatal must end the process, so it runs in a child copy of this binary.
	t.Run("FatalExits", func(t *testing.T) {
		t.Parallel()
		if os.Getenv("LOKIZ_TEST_ASYNQ_FATAL") == "1" {
			tasks.NewAsynqLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))).Fatal("cannot go on")
			return
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestAsynqLogger$/^FatalExits$")
		cmd.Env = append(os.Environ(), "LOKIZ_TEST_ASYNQ_FATAL=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr)
		require.Equal(t, 1, exitErr.ExitCode())
		require.Contains(t, stderr.String(), `level=ERROR+4 msg="cannot go on"`)
	})
}
