package mail

import (
	"fmt"
	"strings"
	"time"
)

// Languages of mail. A user's language is stored at registration from the
// Accept-Language header (or the body's language); anything else is
// English.
const (
	LangEnglish = "en"
	LangKorean  = "ko"
)

// NormalizeLang returns "ko" for a Korean tag (ko, ko-KR) and "en" for
// anything else.
func NormalizeLang(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if tag == "ko" || strings.HasPrefix(tag, "ko-") || strings.HasPrefix(tag, "ko_") {
		return LangKorean
	}
	return LangEnglish
}

// LangFromAcceptLanguage picks the mail language from an Accept-Language
// header: Korean when Korean is preferred over English (the highest
// q-value among ko and en wins; ties go to the one listed first), else
// English.
func LangFromAcceptLanguage(header string) string {
	bestLang, bestQ := LangEnglish, -1.0
	for _, part := range strings.Split(header, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		tag := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "q="); ok {
				if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
					q = 0
				}
			}
		}
		var lang string
		switch {
		case tag == "ko" || strings.HasPrefix(tag, "ko-"):
			lang = LangKorean
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = LangEnglish
		default:
			continue
		}
		if q > bestQ {
			bestLang, bestQ = lang, q
		}
	}
	return bestLang
}

func ko(lang string) bool { return lang == LangKorean }

func unsubLabel(lang string) string {
	if ko(lang) {
		return "이메일 알림 수신 거부"
	}
	return "Unsubscribe from e-mail notifications"
}

func minutes(d time.Duration) int { return int(d.Round(time.Minute) / time.Minute) }

// VerificationContent is the mail that proves an address.
func VerificationContent(lang, username, link string, ttl time.Duration) Content {
	if ko(lang) {
		return Content{Lang: lang, Subject: "LOKIZ 이메일 주소를 인증해 주세요", Heading: "이메일 주소 인증",
			Lines:  []string{fmt.Sprintf("%s님, 안녕하세요.", username), "아래 버튼을 눌러 이 이메일 주소가 본인의 것임을 확인해 주세요."},
			Action: &Link{Label: "이메일 인증하기", URL: link},
			Notes:  []string{fmt.Sprintf("이 링크는 %d시간 동안, 한 번만 사용할 수 있습니다.", int(ttl.Hours())), "LOKIZ에 가입한 적이 없다면 이 메일을 무시하세요."}}
	}
	return Content{Lang: LangEnglish, Subject: "Verify your LOKIZ e-mail address", Heading: "Verify your e-mail address",
		Lines:  []string{fmt.Sprintf("Hi %s,", username), "Please confirm that this address is yours."},
		Action: &Link{Label: "Verify e-mail address", URL: link},
		Notes:  []string{fmt.Sprintf("The link works once, for %d hours.", int(ttl.Hours())), "If you did not sign up for LOKIZ, ignore this mail."}}
}

// PasswordResetContent is the mail with a password-reset link.
func PasswordResetContent(lang, username, link string, ttl time.Duration) Content {
	if ko(lang) {
		return Content{Lang: lang, Subject: "LOKIZ 비밀번호 재설정", Heading: "비밀번호 재설정",
			Lines:  []string{fmt.Sprintf("%s님, 비밀번호 재설정 요청을 받았습니다.", username), "아래 버튼을 눌러 새 비밀번호를 정하세요. 재설정하면 모든 기기에서 로그아웃됩니다."},
			Action: &Link{Label: "비밀번호 재설정", URL: link},
			Notes:  []string{fmt.Sprintf("이 링크는 %d분 동안, 한 번만 사용할 수 있습니다.", minutes(ttl)), "요청한 적이 없다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다."}}
	}
	return Content{Lang: LangEnglish, Subject: "Reset your LOKIZ password", Heading: "Reset your password",
		Lines:  []string{fmt.Sprintf("Hi %s, we received a request to reset your password.", username), "Choose a new password with the button below. Resetting it signs you out everywhere."},
		Action: &Link{Label: "Reset password", URL: link},
		Notes:  []string{fmt.Sprintf("The link works once, for %d minutes.", minutes(ttl)), "If you did not ask for this, ignore this mail: your password stays as it is."}}
}

// CommentContent is the mail for one comment on the user's video.
func CommentContent(lang, actor, videoTitle, comment, link, unsubscribe string) Content {
	title := videoTitle
	if ko(lang) {
		if title == "" {
			title = "내 동영상"
		}
		return Content{Lang: lang, Subject: fmt.Sprintf("%s님이 댓글을 남겼습니다", actor), Heading: "새 댓글",
			Lines:  []string{fmt.Sprintf("%s님이 \"%s\"에 댓글을 남겼습니다:", actor, title), comment},
			Action: &Link{Label: "댓글 보기", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(lang)}
	}
	if title == "" {
		title = "your video"
	}
	return Content{Lang: LangEnglish, Subject: fmt.Sprintf("%s commented on your video", actor), Heading: "New comment",
		Lines:  []string{fmt.Sprintf("%s commented on \"%s\":", actor, title), comment},
		Action: &Link{Label: "See the comment", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(lang)}
}

// AIJobContent is the mail for a finished AI job.
func AIJobContent(lang, status, message, link, unsubscribe string) Content {
	ok := status == "completed"
	if ko(lang) {
		c := Content{Lang: lang, Subject: "AI 작업이 완료되었습니다", Heading: "AI 작업 완료",
			Lines:  []string{"요청하신 AI 작업이 완료되었습니다."},
			Action: &Link{Label: "결과 보기", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(lang)}
		if !ok {
			c.Subject, c.Heading, c.Lines = "AI 작업이 완료되지 않았습니다", "AI 작업 실패", []string{"요청하신 AI 작업을 완료하지 못했습니다. 사용한 크레딧은 환불되었습니다."}
		}
		if message != "" {
			c.Lines = append(c.Lines, message)
		}
		return c
	}
	c := Content{Lang: LangEnglish, Subject: "Your AI job is ready", Heading: "AI job finished",
		Lines:  []string{"The AI job you started has finished."},
		Action: &Link{Label: "See the result", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(lang)}
	if !ok {
		c.Subject, c.Heading, c.Lines = "Your AI job did not finish", "AI job failed", []string{"The AI job you started could not finish. Its credits were refunded."}
	}
	if message != "" {
		c.Lines = append(c.Lines, message)
	}
	return c
}

// DigestEvent is one like, follow or glitch in a digest.
type DigestEvent struct {
	Type       string // like, comment_like, follow, glitch
	Actor      string
	VideoTitle string
}

// maxDigestItems is how many events a digest lists one by one.
const maxDigestItems = 10

// DigestContent sums up the events of one period.
func DigestContent(lang string, events []DigestEvent, link, unsubscribe string) Content {
	counts := map[string]int{}
	for _, e := range events {
		t := e.Type
		if t == "comment_like" {
			t = "like"
		}
		counts[t]++
	}
	var summary []string
	var items []string
	if ko(lang) {
		for _, k := range []struct{ t, s string }{{"like", "좋아요 %d개"}, {"follow", "새 팔로워 %d명"}, {"glitch", "글리치 %d개"}} {
			if n := counts[k.t]; n > 0 {
				summary = append(summary, fmt.Sprintf(k.s, n))
			}
		}
		for i, e := range events {
			if i == maxDigestItems {
				items = append(items, fmt.Sprintf("외 %d건", len(events)-maxDigestItems))
				break
			}
			items = append(items, digestItemKo(e))
		}
		return Content{Lang: lang, Subject: "LOKIZ 새 소식: " + strings.Join(summary, ", "), Heading: "새 소식",
			Lines: []string{"지난번 이후 받은 반응입니다: " + strings.Join(summary, ", ") + "."}, Items: items,
			Action: &Link{Label: "알림 보기", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(lang)}
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	for _, k := range []struct{ t, one, many string }{{"like", "like", "likes"}, {"follow", "new follower", "new followers"}, {"glitch", "glitch", "glitches"}} {
		if n := counts[k.t]; n > 0 {
			summary = append(summary, plural(n, k.one, k.many))
		}
	}
	for i, e := range events {
		if i == maxDigestItems {
			items = append(items, fmt.Sprintf("and %d more", len(events)-maxDigestItems))
			break
		}
		items = append(items, digestItemEn(e))
	}
	return Content{Lang: LangEnglish, Subject: "What's new on LOKIZ: " + strings.Join(summary, ", "), Heading: "What's new",
		Lines: []string{"Since our last mail you got " + strings.Join(summary, ", ") + "."}, Items: items,
		Action: &Link{Label: "See your notifications", URL: link}, Unsubscribe: unsubscribe, UnsubscribeLabel: unsubLabel(LangEnglish)}
}

func digestItemEn(e DigestEvent) string {
	title := e.VideoTitle
	if title == "" {
		title = "your video"
	} else {
		title = "\"" + title + "\""
	}
	switch e.Type {
	case "follow":
		return e.Actor + " followed you"
	case "glitch":
		return e.Actor + " glitched " + title
	case "comment_like":
		return e.Actor + " liked your comment"
	default:
		return e.Actor + " liked " + title
	}
}

func digestItemKo(e DigestEvent) string {
	title := e.VideoTitle
	if title == "" {
		title = "내 동영상"
	} else {
		title = "\"" + title + "\""
	}
	switch e.Type {
	case "follow":
		return e.Actor + "님이 나를 팔로우했습니다"
	case "glitch":
		return e.Actor + "님이 " + title + "을(를) 글리치했습니다"
	case "comment_like":
		return e.Actor + "님이 내 댓글을 좋아합니다"
	default:
		return e.Actor + "님이 " + title + "을(를) 좋아합니다"
	}
}
