package mail

import (
	"net/netip"
	"strings"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/internal/useragent"
)

// Values of the "by" detail of an event that an admin or the command line
// caused, as handlers.EventByAdmin and handlers.EventByCLI store them.
const (
	byAdmin = "admin"
	byCLI   = "cli"
)

// noticeLanguages are the languages of every mail, in order. Users have no
// language setting, so each mail has both, Spanish first as in the app.
var noticeLanguages = []string{i18n.Spanish, i18n.English}

// NoticeMail returns the subject and plain-text body of the mail that
// reports events to the user with the given email. The text names each
// event, its time, and the browser and IP that caused it, unless an admin
// or the command line did. It contains no event details, so no hash, key
// or session number reaches a mail.
func NoticeMail(email string, events []db.SecurityEvent) (subject, body string) {
	subjects := make([]string, 0, len(noticeLanguages))
	sections := make([]string, 0, len(noticeLanguages))
	for _, lang := range noticeLanguages {
		subjects = append(subjects, noticeSubject(lang, events))
		sections = append(sections, noticeSection(lang, email, events))
	}

	return strings.Join(subjects, " / "), strings.Join(sections, "\n----------------------------------------\n\n")
}

func noticeSubject(lang string, events []db.SecurityEvent) string {
	if len(events) == 1 {
		return i18n.T(lang, "mail.subject_one", eventLabel(lang, events[0]))
	}

	return i18n.T(lang, "mail.subject_many", len(events))
}

func noticeSection(lang, email string, events []db.SecurityEvent) string {
	var b strings.Builder
	b.WriteString(i18n.T(lang, "mail.greeting") + "\n\n")
	if len(events) == 1 {
		b.WriteString(i18n.T(lang, "mail.intro_one", email) + "\n\n")
	} else {
		b.WriteString(i18n.T(lang, "mail.intro_many", len(events), email) + "\n\n")
	}

	for _, e := range events {
		b.WriteString("- " + eventLabel(lang, e) + "\n")
		b.WriteString("  " + i18n.T(lang, "mail.when") + ": " + i18n.FormatTime(lang, e.OccurredAt) + "\n")
		if byWhom(e) != "" {
			b.WriteString("\n")
			continue
		}
		if browser := eventBrowser(lang, e.UserAgent); browser != "" {
			b.WriteString("  " + i18n.T(lang, "mail.browser") + ": " + browser + "\n")
		}
		// The client IP is written only when it is one, so no text that a
		// client sent can reach the mail.
		if ip, err := netip.ParseAddr(e.ClientIP); err == nil {
			b.WriteString("  " + i18n.T(lang, "event.ip") + ": " + ip.String() + "\n")
		}
		b.WriteString("\n")
	}

	b.WriteString(i18n.T(lang, "mail.not_you") + "\n\n")
	b.WriteString(i18n.T(lang, "mail.automatic") + "\n")

	return b.String()
}

// eventLabel names the event in lang, with who caused it when it was not
// the user, as the notices in the app do.
func eventLabel(lang string, e db.SecurityEvent) string {
	key := "event." + e.Kind
	if e.Kind == "login_succeeded" {
		key = "notice.new_device"
	}
	label := e.Kind
	if i18n.Has(key) {
		label = i18n.T(lang, key)
	}

	switch byWhom(e) {
	case byAdmin:
		label += " (" + i18n.T(lang, "event.by_admin") + ")"
	case byCLI:
		label += " (" + i18n.T(lang, "event.by_cli") + ")"
	}

	return label
}

func byWhom(e db.SecurityEvent) string {
	by, _ := e.Details["by"].(string)
	if by == byAdmin || by == byCLI {
		return by
	}

	return ""
}

// eventBrowser names the browser and operating system of a User-Agent in
// lang, or returns "" when neither is recognized. Only the names that
// useragent.Parse recognizes reach the mail, never the header itself.
func eventBrowser(lang, userAgent string) string {
	agent := useragent.Parse(userAgent)
	if agent.Browser == "" && agent.OS == "" {
		return ""
	}

	return i18n.FormatBrowser(lang, agent.Browser, agent.OS)
}
