package lokiz

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Video statuses (DESIGN.md §4): uploading → processing → completed | failed;
// removed is set by moderation.
const (
	VideoUploading  = "uploading"
	VideoProcessing = "processing"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
	VideoRemoved    = "removed"
)

// VideoStatuses are the video statuses, in their order of life.
var VideoStatuses = []string{VideoUploading, VideoProcessing, VideoCompleted, VideoFailed, VideoRemoved}

// VideoReady reports whether a video can be worked on in the studio
// (previewed, captured, remixed by an AI job): it finished processing and
// its file exists.
func VideoReady(status string, hasFile bool) bool {
	return status == VideoCompleted && hasFile
}

// ErrVideoNotReady refuses a studio action on a video that is not ready
// (VideoReady).
var ErrVideoNotReady = Errorf(ECONFLICT, "The video is not ready yet")

// Video limits.
const (
	CaptionMaxRunes = 2200
	TitleMaxRunes   = 200
	HashtagMaxRunes = 100
	// HashtagsPerVideo caps how many tags one caption may carry; the rest
	// of a spammy caption stays text.
	HashtagsPerVideo = 30
)

// VideoUploadTypes are the content types accepted for video uploads.
var VideoUploadTypes = []string{"video/mp4", "video/quicktime", "video/webm"}

// ImageUploadTypes are the content types accepted for image uploads.
var ImageUploadTypes = []string{"image/jpeg", "image/png", "image/webp"}

// ExtractHashtags returns the distinct lower-cased tags of a caption, in
// order of first appearance. A tag is "#" followed by letters, digits and
// "_" in any script (reference §3.9: Python's Unicode \w); "#café" gives
// "café", "#x-y" gives "x". Tags longer than HashtagMaxRunes are skipped,
// and at most HashtagsPerVideo are returned.
func ExtractHashtags(caption string) []string {
	var tags []string
	seen := map[string]bool{}
	runes := []rune(caption)
	for i := 0; i < len(runes); i++ {
		if runes[i] != '#' {
			continue
		}
		j := i + 1
		for j < len(runes) && isTagRune(runes[j]) {
			j++
		}
		if j > i+1 {
			tag := strings.ToLower(string(runes[i+1 : j]))
			if utf8.RuneCountInString(tag) <= HashtagMaxRunes && !seen[tag] {
				seen[tag] = true
				tags = append(tags, tag)
				if len(tags) == HashtagsPerVideo {
					return tags
				}
			}
		}
		i = j - 1
	}
	return tags
}

func isTagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.No, r)
}

// ValidateCaption reports what is wrong with a caption, or "".
func ValidateCaption(s string) string {
	if utf8.RuneCountInString(s) > CaptionMaxRunes {
		return "must be at most 2200 characters long"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && isControl(r) }) {
		return "must not contain control characters"
	}
	return ""
}

// ValidateTitle reports what is wrong with a title, or "".
func ValidateTitle(s string) string {
	if utf8.RuneCountInString(s) > TitleMaxRunes {
		return "must be at most 200 characters long"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return "must not contain control characters"
	}
	return ""
}

// SharePlatforms are where a share can go (video_shares.share_platform).
var SharePlatforms = []string{"copy_link", "kakaotalk", "instagram", "facebook", "twitter", "whatsapp",
	"telegram", "line", "email", "sms", "embed", "other"}

// FramesGaveUp is the error a frame capture shows when the worker could
// not run it after several attempts (an infrastructure failure, not the
// video's fault): the api answers it 503, any other failure 422.
const FramesGaveUp = "the frames could not be captured; please try again"

// ReportTypes are the reasons a user, video or comment can be reported.
var ReportTypes = []string{"inappropriate", "spam", "copyright", "violence", "harassment", "other"}
