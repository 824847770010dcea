package replicate

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	rg "github.com/replicate/replicate-go"

	"github.com/lokiz/lokiz"
)

//go:embed catalog.json
var defaultCatalog []byte

// Logical inputs a job provides; a catalog entry maps each to the model's own
// input name. "video" and "image" are URLs of our storage objects.
var logicalInputs = []string{"video", "image", "prompt", "duration", "resolution"}

// Entry is how one AI job type runs on Replicate. Entries are configuration
// (AI_CATALOG_FILE), not code: moving a job type to another model, pinning a
// version or renaming an input needs no deploy.
type Entry struct {
	// Model is "owner/name", optionally ":version".
	Model string `json:"model"`
	// Version, when set, pins a version id (64 hex digits): predictions are
	// created for that version, so a model's owner publishing a new one
	// changes nothing here until the catalog does. Model then only names
	// it. Replicate's official models (google/veo-3-fast, luma/modify-video,
	// wan-video/…) have no public versions: they run by name, on the
	// version Replicate keeps stable behind it.
	Version string `json:"version,omitempty"`
	// Inputs maps a logical input (video, image, prompt, duration, resolution) to the
	// model's input name. A logical input without a mapping is not sent.
	Inputs map[string]string `json:"inputs"`
	// Fixed inputs are sent as they are with every prediction.
	Fixed map[string]any `json:"fixed,omitempty"`
	// Output is what the model makes: "video" or "audio".
	Output string `json:"output"`
	// Deadline is sent as Cancel-After: the prediction is aborted when it
	// runs longer. Go duration syntax.
	Deadline Duration `json:"deadline"`
}

// Duration is a time.Duration written as "90s" or "10m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"10m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// versionID is the shape of a Replicate model version id.
var versionID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Catalog maps each AI job type (lokiz.Job*) to its entry.
type Catalog map[string]Entry

// CatalogFile is what the catalog file holds: the model of each job type
// and the studio limits of each tier.
type CatalogFile struct {
	Models Catalog
	// TierLimits are the studio limits of each subscription tier (the
	// "tier_limits" object): the longest template, sticker and music job
	// and the highest resolution its users may ask for.
	TierLimits lokiz.TierLimits
}

// tierLimitsKey is the catalog file's key of the tier limits; every other
// key is a job type.
const tierLimitsKey = "tier_limits"

// LoadCatalog reads the models of the catalog at path, or of the built-in
// one when path is empty (LoadCatalogFile).
func LoadCatalog(path string) (Catalog, error) {
	f, err := LoadCatalogFile(path)
	return f.Models, err
}

// LoadCatalogFile reads the catalog at path, or the built-in one when path
// is empty, and checks that every job type has a complete entry and that
// the tier limits are complete and sane (lokiz.TierLimits.Validate). A file
// without "tier_limits" takes the built-in catalog's.
func LoadCatalogFile(path string) (CatalogFile, error) {
	data := defaultCatalog
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return CatalogFile{}, fmt.Errorf("AI catalog: %w", err)
		}
	}
	name := cmp.Or(path, "(built in)")
	f, err := parseCatalog(data)
	if err != nil {
		return CatalogFile{}, fmt.Errorf("AI catalog %s: %w", name, err)
	}
	if f.TierLimits == nil {
		if f.TierLimits, err = DefaultTierLimits(); err != nil {
			return CatalogFile{}, err
		}
	}
	if err := errors.Join(f.Models.validate(), f.TierLimits.Validate()); err != nil {
		return CatalogFile{}, fmt.Errorf("AI catalog %s: %w", name, err)
	}
	return f, nil
}

// DefaultTierLimits are the built-in catalog's tier limits.
func DefaultTierLimits() (lokiz.TierLimits, error) {
	f, err := parseCatalog(defaultCatalog)
	if err == nil && f.TierLimits == nil {
		err = errors.New("no tier_limits")
	}
	if err != nil {
		return nil, fmt.Errorf("AI catalog (built in): %w", err)
	}
	return f.TierLimits, nil
}

// parseCatalog decodes a catalog file strictly (an unknown field is an
// error), without checking its values.
func parseCatalog(data []byte) (CatalogFile, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return CatalogFile{}, err
	}
	strict := func(msg json.RawMessage, v any) error {
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	f := CatalogFile{Models: Catalog{}}
	for key, msg := range raw {
		if key == tierLimitsKey {
			if err := strict(msg, &f.TierLimits); err != nil {
				return CatalogFile{}, fmt.Errorf("%s: %w", key, err)
			}
			continue
		}
		var e Entry
		if err := strict(msg, &e); err != nil {
			return CatalogFile{}, fmt.Errorf("%s: %w", key, err)
		}
		f.Models[key] = e
	}
	return f, nil
}

func (c Catalog) validate() error {
	var errs []error
	for _, jt := range []string{lokiz.JobI2VTemplate, lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace, lokiz.JobStickerToReality, lokiz.JobMusic} {
		e, ok := c[jt]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: missing", jt))
			continue
		}
		if e.Version == "" || e.Model != "" {
			if id, err := rg.ParseIdentifier(e.Model); err != nil {
				errs = append(errs, fmt.Errorf("%s: model %q is not owner/name[:version]", jt, e.Model))
			} else if id.Version != nil && !versionID.MatchString(*id.Version) {
				errs = append(errs, fmt.Errorf("%s: model %q: a version is 64 lowercase hex digits", jt, e.Model))
			} else if id.Version != nil && e.Version != "" && *id.Version != e.Version {
				errs = append(errs, fmt.Errorf("%s: model %q names another version than %q", jt, e.Model, e.Version))
			}
		}
		if e.Version != "" && !versionID.MatchString(e.Version) {
			errs = append(errs, fmt.Errorf("%s: version %q is not a version id (64 lowercase hex digits)", jt, e.Version))
		}
		if e.Output != "video" && e.Output != "audio" {
			errs = append(errs, fmt.Errorf("%s: output must be video or audio, not %q", jt, e.Output))
		}
		if e.Deadline <= 0 {
			errs = append(errs, fmt.Errorf("%s: deadline must be positive", jt))
		}
		for in, name := range e.Inputs {
			if !slices.Contains(logicalInputs, in) {
				errs = append(errs, fmt.Errorf("%s: unknown logical input %q (known: %s)", jt, in, strings.Join(logicalInputs, ", ")))
			}
			if name == "" {
				errs = append(errs, fmt.Errorf("%s: input %q maps to an empty name", jt, in))
			}
		}
		if e.Inputs["prompt"] == "" && jt == lokiz.JobMusic {
			errs = append(errs, fmt.Errorf("%s: the prompt must be mapped", jt))
		}
	}
	for jt := range c {
		if !lokiz.ValidJobType(jt) {
			errs = append(errs, fmt.Errorf("unknown job type %q", jt))
		}
	}
	return errors.Join(errs...)
}

// Spec builds the prediction for a job from its logical inputs; values of
// logical inputs the entry does not map are dropped, empty strings too.
func (e Entry) Spec(logical map[string]any) Spec {
	input := make(map[string]any, len(e.Inputs)+len(e.Fixed))
	for k, v := range e.Fixed {
		input[k] = v
	}
	for in, v := range logical {
		name, ok := e.Inputs[in]
		if !ok || v == nil || v == "" {
			continue
		}
		input[name] = v
	}
	spec := Spec{Input: input, Deadline: time.Duration(e.Deadline)}
	if e.Version != "" {
		spec.Version = e.Version
	} else {
		spec.Model = e.Model
	}
	return spec
}

// Name is how the entry's model is shown: Model, or the version id.
func (e Entry) Name() string { return cmp.Or(e.Model, e.Version) }
