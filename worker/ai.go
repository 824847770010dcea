package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	rg "github.com/replicate/replicate-go"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// AIConfig tunes the AI tasks.
type AIConfig struct {
	// WebhookURL is where Replicate reports finished predictions
	// (PUBLIC_BASE_URL/v1/webhooks/replicate); empty means polling only.
	WebhookURL string
	// PollMin is the wait before the first poll; each next one waits twice
	// as long, up to PollMax. Defaults 2s and 30s.
	PollMin, PollMax time.Duration
	// InputURLTTL is how long the signed URLs of the inputs stay valid for
	// the model to fetch them. Defaults to 2h.
	InputURLTTL time.Duration
	// MaxOutputBytes bounds each downloaded output. Defaults to 500 MiB.
	MaxOutputBytes int64
	// Outputs says where outputs may be downloaded from: Replicate's
	// delivery hosts over https by default, never an internal address.
	Outputs replicate.OutputPolicy
	// DeadlineGrace is how long past its deadline an open job waits for
	// Replicate to report the abort before it is failed here. Defaults to 2m.
	DeadlineGrace time.Duration
}

func (c AIConfig) withDefaults() AIConfig {
	if c.PollMin <= 0 {
		c.PollMin = 2 * time.Second
	}
	if c.PollMax < c.PollMin {
		c.PollMax = max(c.PollMin, 30*time.Second)
	}
	if c.InputURLTTL <= 0 {
		c.InputURLTTL = 2 * time.Hour
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = 500 << 20
	}
	if c.DeadlineGrace <= 0 {
		c.DeadlineGrace = 2 * time.Minute
	}
	return c
}

// AIHandler runs the AI tasks (tasks.TypeAI*). Every step re-reads the job
// and changes it with a conditional update, so any task may run twice or
// concurrently with another: a job gets one prediction, one terminal state,
// and a refund exactly when it ends failed or canceled.
type AIHandler struct {
	store    *db.Store
	storage  storage.Store
	tasks    *tasks.Client
	rep      *replicate.Client
	catalog  replicate.Catalog
	finalize *VideoFinalizeHandler
	cfg      AIConfig
	outputs  *http.Client // downloads outputs under cfg.Outputs
	media    MediaConfig
	log      *slog.Logger
	// attempt reports the running task's retry count and its maximum
	// (asynq's, from the context); tests replace it.
	attempt func(context.Context) (retry, maxRetry int)
}

func asynqAttempt(ctx context.Context) (int, int) {
	retry, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	if !ok1 || !ok2 {
		return 0, 1 // not run by asynq: never the last attempt
	}
	return retry, maxRetry
}

// NewAIHandler returns the handler of the AI tasks.
// An invalid output policy (cmd/lokiz validates it at start) downloads
// nothing: every job then fails with a refund rather than fetching without
// the policy.
func NewAIHandler(d Deps) *AIHandler {
	outputs, err := replicate.NewOutputClient(d.AI.Outputs)
	if err != nil {
		d.Logger.Error("AI outputs cannot be downloaded", "error", err)
		outputs = &http.Client{Transport: refuseAll{err}}
	}
	return &AIHandler{
		store: d.Store, storage: d.Storage, tasks: d.Tasks, rep: d.Replicate, catalog: d.Catalog,
		finalize: NewVideoFinalizeHandler(d.Store, d.Storage, d.Media, d.Logger),
		cfg:      d.AI.withDefaults(), outputs: outputs, media: d.Media, log: d.Logger, attempt: asynqAttempt,
	}
}

// refuseAll is the transport of an output client that could not be built.
type refuseAll struct{ err error }

func (r refuseAll) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%w: %v", replicate.ErrOutputRefused, r.err)
}

// Register adds the AI task types to mux.
func (h *AIHandler) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(tasks.TypeAIRun, h.withJob(h.Run))
	mux.HandleFunc(tasks.TypeAIPoll, func(ctx context.Context, t *asynq.Task) error {
		p, err := tasks.ParseAIJobPayload(t)
		if err != nil {
			return err
		}
		return h.lastTry(ctx, p.JobID, h.Poll(ctx, p.JobID, p.Poll))
	})
	mux.HandleFunc(tasks.TypeAIFinalize, h.withJob(h.Finalize))
	// No lastTry: a canceled job is already ended and refunded.
	mux.HandleFunc(tasks.TypeAICancel, func(ctx context.Context, t *asynq.Task) error {
		p, err := tasks.ParseAIJobPayload(t)
		if err != nil {
			return err
		}
		return h.CancelPrediction(ctx, p.JobID)
	})
}

func (h *AIHandler) withJob(fn func(context.Context, uuid.UUID) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		p, err := tasks.ParseAIJobPayload(t)
		if err != nil {
			return err
		}
		return h.lastTry(ctx, p.JobID, fn(ctx, p.JobID))
	}
}

// lastTry fails the job (with its refund) when err ends the task's last
// attempt: a job never stays open because its tasks gave up.
func (h *AIHandler) lastTry(ctx context.Context, jobID uuid.UUID, err error) error {
	if err == nil {
		return nil
	}
	if retry, maxRetry := h.attempt(ctx); !errors.Is(err, asynq.SkipRetry) && retry < maxRetry {
		return err
	}
	h.fail(context.WithoutCancel(ctx), jobID, lokiz.JobFailed,
		"The AI service could not be reached; your credits were refunded", "retries exhausted: "+err.Error(), "")
	return err
}

// permanent marks an error that retrying cannot fix: the job fails at once.
type permanent struct {
	userMsg string
	err     error
}

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// loadJob loads the job a task names. ok is false when the task has nothing
// to do: the job no longer exists (err is nil, the task is dropped) or it
// could not be read (err is returned, the task is retried).
func (h *AIHandler) loadJob(ctx context.Context, jobID uuid.UUID) (job db.AIJob, ok bool, err error) {
	job, err = h.store.AIJobGet(ctx, jobID)
	if db.IsNotFound(err) {
		return job, false, nil
	} else if err != nil {
		return job, false, fmt.Errorf("load job %s: %w", jobID, err)
	}
	return job, true, nil
}

// Run creates the job's prediction, unless it has one, and schedules the
// first poll.
func (h *AIHandler) Run(ctx context.Context, jobID uuid.UUID) error {
	job, ok, err := h.loadJob(ctx, jobID)
	if !ok {
		return err
	}
	switch {
	case lokiz.JobTerminal(job.Status):
		return nil
	case job.PredictionID != nil:
		return h.schedulePoll(ctx, job, 1, "")
	}
	entry, ok := h.catalog[job.JobType]
	if !ok {
		h.fail(ctx, job.ID, lokiz.JobFailed, "This kind of AI job is not available right now; your credits were refunded",
			"no catalog entry for "+job.JobType, "")
		return nil
	}
	if job.Model != nil && *job.Model != entry.Name() {
		// A preset names its own model; it takes the catalog's input names.
		entry.Model, entry.Version = *job.Model, ""
	}

	// A create was sent before and its answer never stored: find that
	// prediction instead of making a second one.
	if len(job.Request) > 0 && job.RequestAt != nil {
		var sent map[string]any
		if err := json.Unmarshal(job.Request, &sent); err == nil {
			p, found, err := h.rep.FindByInput(ctx, sent, *job.RequestAt, func(id string) (bool, error) {
				other, err := h.store.AIJobGetByPrediction(ctx, &id)
				if db.IsNotFound(err) {
					return false, nil
				} else if err != nil {
					return false, fmt.Errorf("owner of prediction %s: %w", id, err)
				}
				return other.ID != job.ID, nil
			})
			if err != nil {
				return err
			}
			if found {
				h.log.InfoContext(ctx, "adopted the prediction of an interrupted run", "job_id", job.ID, "prediction_id", p.ID)
				return h.started(ctx, job, p)
			}
		}
	}

	spec, err := h.spec(ctx, job, entry)
	var perm *permanent
	if errors.As(err, &perm) {
		h.fail(ctx, job.ID, lokiz.JobFailed, perm.userMsg, perm.Error(), "")
		return nil
	} else if err != nil {
		return err
	}
	request, err := json.Marshal(spec.Input)
	if err != nil {
		return fmt.Errorf("encode input: %w", err)
	}
	if n, err := h.store.AIJobRecordRequest(ctx, db.AIJobRecordRequestParams{ID: job.ID, Request: request}); err != nil {
		return fmt.Errorf("record request: %w", err)
	} else if n == 0 {
		return nil // canceled, or another delivery got further meanwhile
	}
	p, err := h.rep.Create(ctx, spec)
	var apiErr *rg.APIError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
		// The model refused the input (422) or the account cannot use it:
		// sending it again changes nothing.
		h.fail(ctx, job.ID, lokiz.JobFailed, "The AI model rejected this request; your credits were refunded",
			"create refused: "+err.Error(), "")
		return nil
	} else if err != nil {
		return err
	}
	return h.started(ctx, job, p)
}

// started stores a job's new prediction, or cancels the prediction when the
// job may no longer have one (canceled meanwhile, or already running
// another).
func (h *AIHandler) started(ctx context.Context, job db.AIJob, p replicate.Prediction) error {
	n, err := h.store.AIJobStart(ctx, db.AIJobStartParams{
		ID: job.ID, PredictionID: &p.ID, PredictionStatus: ptr(string(p.Status)),
	})
	if err != nil {
		// Unknown whether it was stored: the next attempt finds the
		// prediction by its input.
		return fmt.Errorf("store prediction %s: %w", p.ID, err)
	}
	if n == 0 {
		cur, err := h.store.AIJobGet(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("reload job %s: %w", job.ID, err)
		}
		if cur.PredictionID == nil || *cur.PredictionID != p.ID {
			if _, err := h.rep.Cancel(ctx, p.ID); err != nil {
				h.log.WarnContext(ctx, "cancel a prediction nobody needs", "job_id", job.ID, "prediction_id", p.ID, "error", err)
			}
		}
		return nil
	}
	job.Status, job.PredictionID = lokiz.JobProcessing, &p.ID
	h.log.InfoContext(ctx, "prediction created", "job_id", job.ID, "prediction_id", p.ID, "model", deref(job.Model))
	return h.schedulePoll(ctx, job, 1, "")
}

// spec builds the job's prediction: signed URLs for its inputs (objects in
// our storage only), the model's input names from the catalog, the webhook
// and the deadline.
func (h *AIHandler) spec(ctx context.Context, job db.AIJob, entry replicate.Entry) (replicate.Spec, error) {
	var in lokiz.AIJobInput
	if err := json.Unmarshal(job.InputData, &in); err != nil {
		return replicate.Spec{}, &permanent{"This job's input is damaged; your credits were refunded", fmt.Errorf("decode input: %w", err)}
	}
	logical := map[string]any{"prompt": in.ModelPrompt}
	if in.Duration > 0 {
		logical["duration"] = int(in.Duration)
	}
	if in.Resolution != "" {
		logical["resolution"] = in.Resolution // else the catalog's fixed default
	}
	if in.ImageKey != "" {
		u, err := h.storage.URL(ctx, in.ImageKey, h.cfg.InputURLTTL)
		if err != nil {
			return replicate.Spec{}, fmt.Errorf("sign image: %w", err)
		}
		logical["image"] = u
	}
	if lokiz.JobNeedsSource(job.JobType) && job.SourceVideoID == nil {
		// The source was erased for good (ON DELETE SET NULL).
		return replicate.Spec{}, &permanent{"The source video is no longer available; your credits were refunded", errors.New("source video erased")}
	}
	if job.SourceVideoID != nil {
		key, err := h.sourceVideoKey(ctx, job, in)
		if err != nil {
			return replicate.Spec{}, err
		}
		u, err := h.storage.URL(ctx, key, h.cfg.InputURLTTL)
		if err != nil {
			return replicate.Spec{}, fmt.Errorf("sign video: %w", err)
		}
		logical["video"] = u
	}
	spec := entry.Spec(logical)
	if h.cfg.WebhookURL != "" {
		spec.Webhook = h.cfg.WebhookURL + "?job=" + job.ID.String()
		spec.WebhookEvents = []string{"completed"}
	}
	return spec, nil
}

// sourceVideoKey is the video a glitch or sticker job sends: the source
// itself, or for a sticker job the [start, end] segment, cut once and kept
// under the job's key.
func (h *AIHandler) sourceVideoKey(ctx context.Context, job db.AIJob, in lokiz.AIJobInput) (string, error) {
	v, err := h.store.VideoGetByID(ctx, *job.SourceVideoID)
	if db.IsNotFound(err) || (err == nil && v.ObjectKey == nil) {
		return "", &permanent{"The source video is no longer available; your credits were refunded", errors.New("source video has no object")}
	} else if err != nil {
		return "", fmt.Errorf("load source video: %w", err)
	}
	if job.JobType != lokiz.JobStickerToReality || in.StartTime == nil || in.EndTime == nil {
		return *v.ObjectKey, nil
	}
	key := storage.AIFileKey(job.ID, "segment.mp4")
	if _, err := h.storage.Stat(ctx, key); err == nil {
		return key, nil
	}
	dir, err := os.MkdirTemp(h.media.TempDir, "lokiz-ai-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source"+filepath.Ext(*v.ObjectKey))
	if err := fetchObject(ctx, h.storage, *v.ObjectKey, src); err != nil {
		return "", err
	}
	seg := filepath.Join(dir, "segment.mp4")
	if err := media.Clip(ctx, src, seg, *in.StartTime, *in.EndTime); err != nil {
		return "", &permanent{"The chosen part of the video could not be cut; your credits were refunded", err}
	}
	if err := storeFile(ctx, h.storage, seg, key); err != nil {
		return "", err
	}
	return key, nil
}

// pollDelay is the wait before poll n: PollMin doubled n-1 times, at most
// PollMax.
func (h *AIHandler) pollDelay(n int) time.Duration {
	d := h.cfg.PollMin
	for i := 1; i < n && d < h.cfg.PollMax; i++ {
		d *= 2
	}
	return min(d, h.cfg.PollMax)
}

func (h *AIHandler) schedulePoll(ctx context.Context, job db.AIJob, n int, tag string) error {
	return h.tasks.Enqueue(ctx, tasks.NewAIPollTask(job.ID, job.Queue, n, tag), asynq.ProcessIn(h.pollDelay(n)))
}

// Poll reads the prediction of a processing job: it records progress and
// polls again later, or settles the job once the prediction ended, or gives
// up on a prediction far past its deadline.
func (h *AIHandler) Poll(ctx context.Context, jobID uuid.UUID, n int) error {
	job, ok, err := h.loadJob(ctx, jobID)
	if !ok {
		return err
	}
	if lokiz.JobTerminal(job.Status) {
		return nil
	}
	if job.PredictionID == nil {
		return h.tasks.Enqueue(ctx, tasks.NewAIRunTask(job.ID, job.Queue))
	}
	p, err := h.rep.Get(ctx, *job.PredictionID)
	if err != nil {
		return err
	}
	if p.Status.Terminal() {
		return h.settle(ctx, job, p)
	}
	if job.DeadlineAt != nil && time.Now().After(job.DeadlineAt.Add(h.cfg.DeadlineGrace)) {
		if _, err := h.rep.Cancel(ctx, p.ID); err != nil {
			h.log.WarnContext(ctx, "cancel an overdue prediction", "job_id", job.ID, "prediction_id", p.ID, "error", err)
		}
		h.fail(ctx, job.ID, lokiz.JobFailed, "The AI model took too long; your credits were refunded",
			"past its deadline", string(p.Status))
		return nil
	}
	if _, err := h.store.AIJobProgress(ctx, db.AIJobProgressParams{
		ID: job.ID, Progress: int16(p.Progress()), PredictionStatus: ptr(string(p.Status)),
	}); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	return h.schedulePoll(ctx, job, n+1, "")
}

// Finalize settles a job whose prediction was reported finished (by a
// webhook); a report that came early only schedules a poll.
func (h *AIHandler) Finalize(ctx context.Context, jobID uuid.UUID) error {
	job, ok, err := h.loadJob(ctx, jobID)
	if !ok {
		return err
	}
	if job.Status == lokiz.JobCompleted {
		// A retry after the completion committed: its notifications are
		// in the outbox, delivered by the fast path or the drain.
		return nil
	}
	if lokiz.JobTerminal(job.Status) || job.PredictionID == nil {
		return nil
	}
	p, err := h.rep.Get(ctx, *job.PredictionID)
	if err != nil {
		return err
	}
	if !p.Status.Terminal() {
		return h.schedulePoll(ctx, job, 1, "early")
	}
	return h.settle(ctx, job, p)
}

// settle ends a job whose prediction ended.
func (h *AIHandler) settle(ctx context.Context, job db.AIJob, p replicate.Prediction) error {
	switch p.Status {
	case replicate.StatusSucceeded:
		err := h.complete(ctx, job, p)
		var perm *permanent
		if errors.As(err, &perm) {
			h.fail(ctx, job.ID, lokiz.JobFailed, perm.userMsg, perm.Error(), string(p.Status))
			return nil
		}
		return err
	case replicate.StatusCanceled:
		// Not by the user (their cancel ended the job already): someone
		// stopped it at the provider.
		h.fail(ctx, job.ID, lokiz.JobFailed, "The AI model's run was stopped; your credits were refunded",
			"prediction canceled at the provider", string(p.Status))
	case replicate.StatusAborted:
		h.fail(ctx, job.ID, lokiz.JobFailed, "The AI model ran out of time; your credits were refunded",
			"prediction aborted: "+p.Error, string(p.Status))
	default:
		h.fail(ctx, job.ID, lokiz.JobFailed, "The AI model failed: "+shorten(cmp.Or(p.Error, "no reason given"), 300)+
			"; your credits were refunded", "prediction failed", string(p.Status))
	}
	return nil
}

// complete copies the output into our storage, makes the result video (for
// video jobs) through the same pipeline as an upload, and completes the job.
// Every step is keyed by the job id, so a repeat finds its earlier work.
func (h *AIHandler) complete(ctx context.Context, job db.AIJob, p replicate.Prediction) error {
	entry := h.catalog[job.JobType]
	model := deref(job.Model)
	var in lokiz.AIJobInput
	_ = json.Unmarshal(job.InputData, &in) // validated when the job was accepted

	if entry.Output == kindAudio {
		keys, err := h.copyOutputs(ctx, job, p, kindAudio, 0)
		if err != nil {
			return err
		}
		out, _ := json.Marshal(map[string]any{"model": model, "prediction_id": p.ID, "kind": "audio", "files": keys})
		return h.completed(ctx, job, db.AIJobCompletion{ID: job.ID, OutputData: out, OutputKey: keys[0]})
	}

	videoID := job.ID // the result video has the job's id
	var extras []string
	v, err := h.store.VideoGetByID(ctx, videoID)
	if db.IsNotFound(err) {
		keys, err := h.copyOutputs(ctx, job, p, kindVideo, 0)
		if err != nil {
			return err
		}
		key := keys[0]
		extras = keys[1:]
		if job.JobType == lokiz.JobStickerToReality && in.StartTime != nil && in.EndTime != nil {
			if key, err = h.spliceBack(ctx, job, key, *in.StartTime, *in.EndTime); err != nil {
				return err
			}
		}
		var original *uuid.UUID
		if job.GlitchType != nil {
			original = job.SourceVideoID
		}
		if _, err := h.store.AIResultVideoCreate(ctx, db.AIResultVideoCreateParams{
			ID: videoID, UserID: job.UserID, Title: ptr(h.resultTitle(ctx, job)), UploadKey: &key, OriginalVideoID: original,
		}); err != nil {
			return fmt.Errorf("create result video: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("load result video: %w", err)
	} else if extras, err = h.copyOutputs(ctx, job, p, kindVideo, 1); err != nil {
		return err // a repeat: only the other files may be left to copy
	}
	if err := h.finalize.Finalize(ctx, videoID); err != nil {
		return err
	}
	if v, err = h.store.VideoGetByID(ctx, videoID); err != nil {
		return fmt.Errorf("reload result video: %w", err)
	}
	switch v.Status {
	case lokiz.VideoCompleted:
	case lokiz.VideoFailed:
		return &permanent{"The AI model's output was not a playable video; your credits were refunded",
			fmt.Errorf("result video rejected: %s", deref(v.FailureReason))}
	default:
		return fmt.Errorf("result video %s is %s", v.ID, v.Status)
	}
	// The first file became the video; any others are kept as they came.
	out, _ := json.Marshal(map[string]any{"model": model, "prediction_id": p.ID, "kind": "video", "video_id": v.ID, "files": extras})
	return h.completed(ctx, job, db.AIJobCompletion{
		ID: job.ID, OutputData: out, OutputKey: deref(v.ObjectKey),
		VideoID: &v.ID, SourceVideoID: job.SourceVideoID, GlitchType: job.GlitchType,
	})
}

func (h *AIHandler) completed(ctx context.Context, job db.AIJob, c db.AIJobCompletion) error {
	c.Notify = "Your " + lokiz.JobTypeLabel(job.JobType) + " is ready"
	done, owed, err := h.store.CompleteAIJob(ctx, c)
	if err != nil {
		return fmt.Errorf("complete job: %w", err)
	}
	if !done {
		cur, err := h.store.AIJobGet(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("reload job %s: %w", job.ID, err)
		}
		if cur.Status == lokiz.JobCompleted {
			return nil // a concurrent settle (webhook and poll) completed it
		}
		// Canceled (or failed) while the output was being stored: that state
		// stands, and its result is never shown.
		if c.VideoID != nil {
			if err := h.store.AIResultVideoDiscard(ctx, *c.VideoID); err != nil {
				return fmt.Errorf("discard result video: %w", err)
			}
		}
		return nil
	}
	h.log.InfoContext(ctx, "ai job completed", "job_id", job.ID, "job_type", job.JobType)
	// The owner's notification, and the source owner's for a glitch, were
	// committed to the outbox with the completion; this is the fast path.
	notification.Send(ctx, h.tasks, h.log, owed)
	return nil
}

// fail ends an open job as status with its refund, tells the owner, and
// logs; a job that had already ended is left as it is.
func (h *AIHandler) fail(ctx context.Context, jobID uuid.UUID, status, userMsg, reason, predStatus string) {
	job, ended, owed, err := h.store.EndAIJobNotifying(ctx, db.AIJobEnding{
		ID: jobID, Status: status, ErrorMessage: userMsg, Reason: reason, PredictionStatus: predStatus,
	}, func(job db.AIJob) string {
		return "Your " + lokiz.JobTypeLabel(job.JobType) + " " + status + "; your credits were refunded"
	})
	if err != nil {
		// Left open: the reconciler comes back to it.
		h.log.ErrorContext(ctx, "end ai job", "job_id", jobID, "status", status, "error", err)
		return
	}
	if !ended {
		return
	}
	h.log.InfoContext(ctx, "ai job ended", "job_id", jobID, "status", status, "reason", reason, "refunded", job.CreditsUsed)
	notification.Send(ctx, h.tasks, h.log, owed) // committed with the ending
}

// CancelPrediction stops the prediction of a job the user canceled. The job
// was ended and refunded by the API already; a prediction that finished
// anyway changes nothing.
func (h *AIHandler) CancelPrediction(ctx context.Context, jobID uuid.UUID) error {
	job, ok, err := h.loadJob(ctx, jobID)
	if !ok {
		return err
	}
	if job.PredictionID == nil {
		return nil // canceled before a prediction existed; Run will not create one
	}
	p, err := h.rep.Cancel(ctx, *job.PredictionID)
	if err != nil {
		return err
	}
	h.log.InfoContext(ctx, "prediction canceled", "job_id", job.ID, "prediction_id", p.ID, "status", p.Status)
	return nil
}

// maxOutputs bounds how many files of one prediction are kept.
const maxOutputs = 8

// copyOutputs downloads each of the prediction's output files (at most
// maxOutputs) into our storage as ai/<job>/output<ext>, output-2<ext>, …,
// once: a repeat finds the objects there. Replicate deletes outputs after an
// hour, so nothing may keep its URLs. The first key is the job's output.
// Each file must be of the kinds outputKinds gives for kind (the catalog's
// output) and its place.
//
// from skips the first files: a video job's first file is gone from our
// storage once it became the result video.
func (h *AIHandler) copyOutputs(ctx context.Context, job db.AIJob, p replicate.Prediction, kind string, from int) ([]string, error) {
	urls := p.OutputURLs()
	if len(urls) == 0 {
		return nil, &permanent{"The AI model returned nothing; your credits were refunded", errors.New("prediction has no output URL")}
	}
	keys := make([]string, 0, min(len(urls), maxOutputs))
	for i, src := range urls[:min(len(urls), maxOutputs)] {
		if i < from {
			continue
		}
		name := "output"
		if i > 0 {
			name = fmt.Sprintf("output-%d", i+1)
		}
		key, err := h.copyOutput(ctx, job, src, name, outputKinds(kind, i))
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// errOutputRefused is what a user reads when an output's address is not one
// we fetch from: it names no address.
const errOutputRefused = "The AI model's output could not be fetched from an approved address; your credits were refunded"

// copyOutput copies one output file to ai/<job>/<name><ext>, where ext is
// the format the file was found to be, after checking it is one of kinds.
// The download goes through the output client (AIConfig.Outputs): listed
// hosts over https, no internal address, at most MaxOutputBytes.
func (h *AIHandler) copyOutput(ctx context.Context, job db.AIJob, src, name string, kinds []string) (string, error) {
	base := storage.AIFileKey(job.ID, name)
	for _, k := range kinds {
		for _, f := range outputFormats[k] {
			if _, err := h.storage.Stat(ctx, base+f.ext); err == nil {
				return base + f.ext, nil // an earlier attempt kept it, checked
			}
		}
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", &permanent{"The AI model returned an unusable output; your credits were refunded", fmt.Errorf("output URL does not parse: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", &permanent{"The AI model returned an unusable output; your credits were refunded", fmt.Errorf("output URL: %w", err)}
	}
	resp, err := h.outputs.Do(req)
	if errors.Is(err, replicate.ErrOutputRefused) {
		return "", &permanent{errOutputRefused, fmt.Errorf("download %s: %w", src, err)}
	} else if err != nil {
		return "", fmt.Errorf("download output: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusNotFound:
		return "", &permanent{"The AI model's output expired before it could be saved; your credits were refunded",
			fmt.Errorf("download output: %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("download output: %s", resp.Status)
	case resp.ContentLength > h.cfg.MaxOutputBytes:
		return "", &permanent{"The AI model's output is too large; your credits were refunded",
			fmt.Errorf("output is %d bytes", resp.ContentLength)}
	}
	f, err := os.CreateTemp(h.media.TempDir, "lokiz-ai-output-")
	if err != nil {
		return "", fmt.Errorf("temp file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(resp.Body, h.cfg.MaxOutputBytes+1))
	if err != nil {
		return "", fmt.Errorf("download output: %w", err)
	}
	if n > h.cfg.MaxOutputBytes {
		return "", &permanent{"The AI model's output is too large; your credits were refunded", fmt.Errorf("output is over %d bytes", h.cfg.MaxOutputBytes)}
	}
	format, err := checkOutput(ctx, f.Name(), kinds)
	var bad *notOutputError
	if errors.As(err, &bad) {
		return "", &permanent{"The AI model's output was not a valid " + kinds[0] + " file; your credits were refunded",
			fmt.Errorf("%s: %w", name, err)}
	} else if err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("rewind output: %w", err)
	}
	key := base + format.ext
	if err := h.storage.Put(ctx, key, f, n, format.contentType); err != nil {
		return "", fmt.Errorf("store output: %w", err)
	}
	return key, nil
}

// spliceBack puts a sticker job's remade segment back into its source video
// and returns the key of the whole video.
func (h *AIHandler) spliceBack(ctx context.Context, job db.AIJob, segmentKey string, start, end float64) (string, error) {
	key := storage.AIFileKey(job.ID, "spliced.mp4")
	if _, err := h.storage.Stat(ctx, key); err == nil {
		return key, nil
	}
	src, err := h.store.VideoGetByID(ctx, *job.SourceVideoID)
	if err != nil || src.ObjectKey == nil {
		return "", &permanent{"The source video is no longer available; your credits were refunded", fmt.Errorf("source video: %v", err)}
	}
	dir, err := os.MkdirTemp(h.media.TempDir, "lokiz-ai-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	base := filepath.Join(dir, "source"+filepath.Ext(*src.ObjectKey))
	insert := filepath.Join(dir, "insert"+filepath.Ext(segmentKey))
	out := filepath.Join(dir, "spliced.mp4")
	if err := fetchObject(ctx, h.storage, *src.ObjectKey, base); err != nil {
		return "", err
	}
	if err := fetchObject(ctx, h.storage, segmentKey, insert); err != nil {
		return "", err
	}
	var nv *media.NotVideoError
	if err := media.Splice(ctx, base, insert, out, start, end); errors.As(err, &nv) {
		return "", &permanent{"The AI model's output was not a playable video; your credits were refunded", err}
	} else if err != nil {
		return "", err
	}
	if err := storeFile(ctx, h.storage, out, key); err != nil {
		return "", err
	}
	return key, nil
}

// resultTitle names a result video after its source, as the reference did.
func (h *AIHandler) resultTitle(ctx context.Context, job db.AIJob) string {
	var in lokiz.AIJobInput
	_ = json.Unmarshal(job.InputData, &in)
	sourceTitle := "video"
	if job.SourceVideoID != nil {
		if v, err := h.store.VideoGetByID(ctx, *job.SourceVideoID); err == nil && v.Title != nil && *v.Title != "" {
			sourceTitle = *v.Title
		}
	}
	var title string
	switch job.JobType {
	case lokiz.JobI2VTemplate:
		title = "Template: " + cmp.Or(in.Template, "video")
	case lokiz.JobStickerToReality:
		title = "Sticker to Reality from " + sourceTitle
	default:
		title = "Glitch from " + sourceTitle
	}
	return shorten(title, 200)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
