package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTickTaskID(t *testing.T) {
	t.Parallel()

	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name  string
		every time.Duration // 0: a cron spec
		now   string
		want  string
	}{
		{"CronOnTheMinute", 0, "2026-05-01T10:00:00Z", "credits:audit:2026-05-01T10:00:00Z"},
		{"CronFiredLate", 0, "2026-05-01T10:00:00.004Z", "credits:audit:2026-05-01T10:00:00Z"},
		{"CronEndOfMinute", 0, "2026-05-01T10:00:59.999Z", "credits:audit:2026-05-01T10:00:00Z"},
		{"CronOtherZoneIsUTC", 0, "2026-05-01T19:30:05+09:00", "credits:audit:2026-05-01T10:30:00Z"},
		{"EverySecond", time.Second, "2026-05-01T10:00:03.250Z", "credits:audit:2026-05-01T10:00:03Z"},
		{"Every10sReplicaA", 10 * time.Second, "2026-05-01T10:00:11.002Z", "credits:audit:2026-05-01T10:00:10Z"},
		{"Every10sReplicaB", 10 * time.Second, "2026-05-01T10:00:17.030Z", "credits:audit:2026-05-01T10:00:10Z"},
		{"Every10sNextWindow", 10 * time.Second, "2026-05-01T10:00:20.001Z", "credits:audit:2026-05-01T10:00:20Z"},
		{"EveryHourAlignsToTheHour", time.Hour, "2026-05-01T10:59:59Z", "credits:audit:2026-05-01T10:00:00Z"},
		{"EveryDayAlignsToUTCMidnight", 24 * time.Hour, "2026-05-01T23:59:00+09:00", "credits:audit:2026-05-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tickTaskID("credits:audit", tickOf(tt.every, at(tt.now))))
		})
	}
}

func TestParseEntry(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 5, 1, 10, 17, 0, 0, time.UTC) // a Friday
	tests := []struct {
		name      string
		spec      string
		every     time.Duration
		retention time.Duration
		err       bool
	}{
		{"Hourly", "0 * * * *", 0, 2 * time.Hour, false},
		{"HourlyDescriptor", "@hourly", 0, 2 * time.Hour, false},
		{"EveryFiveMinutes", "*/5 * * * *", 0, 10 * time.Minute, false},
		{"WeekdaysUseTheLongestGap", "0 9 * * 1-5", 0, 6 * 24 * time.Hour, false},
		{"Every10s", "@every 10s", 10 * time.Second, time.Minute, false},
		{"Every1h", "@every 1h", time.Hour, 2 * time.Hour, false},
		{"EveryRoundsToWholeSecondsAsCronDoes", "@every 1500ms", time.Second, time.Minute, false},
		{"Empty", "", 0, 0, true},
		{"BadField", "61 * * * *", 0, 0, true},
		{"BadEvery", "@every soon", 0, 0, true},
		{"SecondsFieldIsNotStandard", "*/5 * * * * *", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := parseEntry(Entry{Name: "x", Spec: tt.spec}, now)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.every, e.every)
			require.Equal(t, tt.retention, e.retention)
		})
	}
}
