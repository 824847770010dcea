package replicate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/replicate"
)

func TestBuiltInCatalog(t *testing.T) {
	t.Parallel()
	c, err := replicate.LoadCatalog("")
	require.NoError(t, err)
	require.Equal(t, "wan-video/wan-2.2-animate-replace", c[lokiz.JobGlitchReplace].Model)
	require.Equal(t, "meta/musicgen", c[lokiz.JobMusic].Model)
	require.Equal(t, "audio", c[lokiz.JobMusic].Output)

	spec := c[lokiz.JobGlitchReplace].Spec(map[string]any{"video": "https://v", "image": "https://i", "prompt": "", "duration": 5})
	require.Equal(t, "wan-video/wan-2.2-animate-replace", spec.Model)
	require.Equal(t, map[string]any{"video": "https://v", "character_image": "https://i"}, spec.Input,
		"the replace model takes character_image; empty and unmapped inputs are not sent")
	require.Equal(t, 15*time.Minute, spec.Deadline)

	tmpl := c[lokiz.JobI2VTemplate]
	require.Equal(t, "720p", tmpl.Spec(map[string]any{"prompt": "p"}).Input["resolution"], "a job without one gets the catalog's default")
	require.Equal(t, "1080p", tmpl.Spec(map[string]any{"prompt": "p", "resolution": "1080p"}).Input["resolution"], "the job's resolution replaces it")

	music := c[lokiz.JobMusic].Spec(map[string]any{"prompt": "lofi", "duration": 8})
	require.Equal(t, map[string]any{"prompt": "lofi", "duration": 8, "model_version": "stereo-melody-large", "output_format": "wav"}, music.Input)
	require.Equal(t, "671ac645ce5e552cc63a54a2bbff63fcf798043055d2dac5fc9e36a837eedcfb", music.Version,
		"musicgen, a community model with versions, is pinned")
	require.Empty(t, music.Model)
	require.Equal(t, "meta/musicgen", c[lokiz.JobMusic].Name(), "jobs still name the model")
}

func TestCatalogFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	const version = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
	entry := `{"model":"a/b","inputs":{"prompt":"text"},"output":"audio","deadline":"1m"}`
	full := `{"i2v_template":` + entry + `,"glitch_animate":` + entry + `,"glitch_replace":` + entry +
		`,"sticker_to_reality":` + entry + `,"music":{"version":"` + version + `","inputs":{"prompt":"text"},"output":"audio","deadline":"90s"}}`
	c, err := replicate.LoadCatalog(write(full))
	require.NoError(t, err)
	spec := c[lokiz.JobMusic].Spec(map[string]any{"prompt": "x"})
	require.Equal(t, version, spec.Version, "a pinned version is used as is")
	require.Empty(t, spec.Model)
	require.Equal(t, 90*time.Second, spec.Deadline)

	for name, body := range map[string]string{
		"missing type":  `{"music":` + entry + `}`,
		"unknown input": `{"i2v_template":{"model":"a/b","inputs":{"colour":"c"},"output":"video","deadline":"1m"}}`,
		"bad model":     `{"i2v_template":{"model":"nope","inputs":{},"output":"video","deadline":"1m"}}`,
		"bad output":    `{"i2v_template":{"model":"a/b","inputs":{},"output":"gif","deadline":"1m"}}`,
		"bad deadline":  `{"i2v_template":{"model":"a/b","inputs":{},"output":"video","deadline":"soon"}}`,
		"unknown field": `{"i2v_template":{"model":"a/b","inputz":{},"output":"video","deadline":"1m"}}`,
		"unknown type":  full[:len(full)-1] + `,"karaoke":` + entry + `}`,
	} {
		_, err := replicate.LoadCatalog(write(body))
		require.Error(t, err, name)
	}
	// A version must be a version id, wherever it is written; the rest of
	// these catalogs is valid.
	rest := full[len(`{"i2v_template":`+entry):]
	for name, bad := range map[string]string{
		"short version": `{"version":"abc123","inputs":{},"output":"video","deadline":"1m"}`,
		"model version": `{"model":"a/b:latest","inputs":{},"output":"video","deadline":"1m"}`,
		"two versions":  `{"model":"a/b:` + version + `","version":"` + strings.Repeat("0", 64) + `","inputs":{},"output":"video","deadline":"1m"}`,
	} {
		_, err := replicate.LoadCatalog(write(`{"i2v_template":` + bad + rest))
		require.ErrorContains(t, err, "i2v_template: ", name)
		require.ErrorContains(t, err, "version", name)
	}
	c, err = replicate.LoadCatalog(write(`{"i2v_template":{"model":"a/b:` + version + `","inputs":{},"output":"video","deadline":"1m"}` + rest))
	require.NoError(t, err, "owner/name:version pins too")
	require.Equal(t, "a/b:"+version, c[lokiz.JobI2VTemplate].Spec(nil).Model, "sent as the model, which the client resolves to the version")

	_, err = replicate.LoadCatalog(filepath.Join(dir, "absent.json"))
	require.Error(t, err)
}

func TestPredictionProgress(t *testing.T) {
	t.Parallel()
	for logs, want := range map[string]int{
		"":                               0,
		"loading model\n":                0,
		"progress: 10%\nprogress: 45%\n": 45,
		" 73%|███████▎  | 73/100 [00:03]": 73,
		"progress: 100%\n":            99,
		"used 250% of quota\nstep 3%": 3,
	} {
		require.Equal(t, want, replicate.Prediction{Status: replicate.StatusProcessing, Logs: logs}.Progress(), logs)
	}
	require.Equal(t, 100, replicate.Prediction{Status: replicate.StatusSucceeded}.Progress())
}

func TestCatalogTierLimits(t *testing.T) {
	t.Parallel()
	// The built-in limits are today's: music grows with the tier, 1080p
	// from pro, the template and sticker models' 10 s for everyone.
	f, err := replicate.LoadCatalogFile("")
	require.NoError(t, err)
	for tier, want := range map[string]lokiz.StudioLimits{
		lokiz.TierFree:       {TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 60, MaxResolution: "720p"},
		lokiz.TierBasic:      {TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 60, MaxResolution: "720p"},
		lokiz.TierPro:        {TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 120, MaxResolution: "1080p"},
		lokiz.TierEnterprise: {TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 180, MaxResolution: "1080p"},
	} {
		require.Equal(t, want, f.TierLimits[tier], tier)
	}
	defaults, err := replicate.DefaultTierLimits()
	require.NoError(t, err)
	require.Equal(t, f.TierLimits, defaults)

	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	entry := `{"model":"a/b","inputs":{"prompt":"text"},"output":"audio","deadline":"1m"}`
	models := `"i2v_template":` + entry + `,"glitch_animate":` + entry + `,"glitch_replace":` + entry +
		`,"sticker_to_reality":` + entry + `,"music":` + entry
	tier := func(music int, res string) string {
		return fmt.Sprintf(`{"template_max_seconds":10,"sticker_max_seconds":8,"music_max_seconds":%d,"max_resolution":%q}`, music, res)
	}
	limits := func(free, basic, pro, ent string) string {
		return `"tier_limits":{"free":` + free + `,"basic":` + basic + `,"pro":` + pro + `,"enterprise":` + ent + `}`
	}

	// A catalog without tier_limits keeps the built-in ones.
	f, err = replicate.LoadCatalogFile(write(`{` + models + `}`))
	require.NoError(t, err)
	require.Equal(t, defaults, f.TierLimits)

	// Its own limits replace them.
	f, err = replicate.LoadCatalogFile(write(`{` + limits(tier(30, "720p"), tier(45, "720p"), tier(90, "1080p"), tier(150, "1080p")) + `,` + models + `}`))
	require.NoError(t, err)
	require.Equal(t, lokiz.StudioLimits{TemplateMaxSeconds: 10, StickerMaxSeconds: 8, MusicMaxSeconds: 90, MaxResolution: "1080p"}, f.TierLimits[lokiz.TierPro])
	require.Equal(t, 30, f.TierLimits.For("gold").MusicMaxSeconds)

	for name, c := range map[string]struct{ body, want string }{
		"missing tier":  {`"tier_limits":{"free":` + tier(30, "720p") + `}`, "tier basic: missing"},
		"beyond bounds": {limits(tier(30, "720p"), tier(30, "720p"), tier(30, "720p"), tier(900, "1080p")), "music_max_seconds must be between 1 and 180"},
		"resolution":    {limits(tier(30, "480p"), tier(30, "720p"), tier(30, "720p"), tier(30, "720p")), "max_resolution"},
		"dearer less":   {limits(tier(60, "720p"), tier(30, "720p"), tier(60, "720p"), tier(60, "720p")), "allows less than a cheaper tier"},
		"unknown field": {`"tier_limits":{"free":{"music_max_secs":30}}`, "unknown field"},
		"unknown tier":  {limits(tier(30, "720p"), tier(30, "720p"), tier(30, "720p"), tier(30, "720p"))[:len(`"tier_limits":{`)] + `"gold":` + tier(30, "720p") + `,` + limits(tier(30, "720p"), tier(30, "720p"), tier(30, "720p"), tier(30, "720p"))[len(`"tier_limits":{`):], `unknown tier "gold"`},
	} {
		_, err := replicate.LoadCatalogFile(write(`{` + c.body + `,` + models + `}`))
		require.ErrorContains(t, err, c.want, name)
	}
}
