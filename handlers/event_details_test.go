package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
)

// addEvent stores an event of the user with the details, as the handlers
// and commands do.
func (e *env) addEvent(userID int64, kind string, details map[string]any) {
	e.t.Helper()

	if err := e.db.AddEvent(context.Background(), db.SecurityEvent{UserID: userID, Kind: kind, ClientIP: "192.0.2.5", Details: details}); err != nil {
		e.t.Fatalf("add %s event: %v", kind, err)
	}
}

func TestEventDetailsTranslated(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	target := e.createUser("gil@example.com", "Gil")

	// The details that the handlers and commands store, with the key sets
	// they use.
	e.addEvent(0, handlers.EventLoginFailed, map[string]any{"reason": "unknown_email"})
	e.addEvent(target.ID, handlers.EventLoginFailed, map[string]any{"reason": "wrong_password", "step": "reauthentication"})
	e.addEvent(target.ID, handlers.EventLockout, map[string]any{"scope": "device", "device_hash": "0123456789abcdef", "failures": 5, "locked_for_seconds": 60})
	e.addEvent(target.ID, handlers.EventLockout, map[string]any{"scope": "account", "account_hash": "fedcba9876543210", "failures": 6, "locked_for_seconds": 120})
	e.addEvent(0, handlers.EventLockout, map[string]any{"scope": "ip", "failures": 1000000, "locked_for_seconds": 900})
	e.addEvent(target.ID, handlers.EventUserDisabled, map[string]any{"by": handlers.EventByAdmin, "admin_id": 1, "sessions_ended": 3})
	e.addEvent(target.ID, handlers.EventUserCreated, map[string]any{"by": handlers.EventByCLI, "role": "admin"})
	e.addEvent(target.ID, handlers.EventSessionRevoked, map[string]any{"session_id": 2, "current": false})
	e.addEvent(target.ID, handlers.EventSessionRevoked, map[string]any{"scope": "others", "sessions_ended": 1})
	e.addEvent(target.ID, handlers.EventLoginUnlocked, map[string]any{"by": handlers.EventByCLI, "counts_cleared": 2})

	tests := []struct {
		lang string
		want []string
	}{
		{"es", []string{
			"Motivo: correo desconocido",
			"Motivo: contraseña incorrecta</span>; <span class=\"event-detail\">Paso: confirmación de la contraseña actual",
			"Huella del dispositivo: 0123456789abcdef", "Intentos fallidos: 5", "Bloqueado durante: 1 minuto", "Ámbito: cookie de dispositivo",
			"Huella del correo: fedcba9876543210", "Bloqueado durante: 2 minutos", "Ámbito: correo",
			"Intentos fallidos: 1000000", "Bloqueado durante: 15 minutos", "Ámbito: dirección IP",
			"ID del administrador: 1", "Sesiones terminadas: 3",
			"Rol: administrador",
			"Sesión actual: no", "Sesión n.º: 2",
			"Ámbito: las demás sesiones",
			"Contadores borrados: 2",
		}},
		{"en", []string{
			"Reason: unknown email",
			"Reason: wrong password</span>; <span class=\"event-detail\">Step: confirmation of the current password",
			"Device hash: 0123456789abcdef", "Failed attempts: 5", "Locked for: 1 minute", "Scope: device cookie",
			"Email hash: fedcba9876543210", "Locked for: 2 minutes", "Scope: email",
			"Failed attempts: 1000000", "Locked for: 15 minutes", "Scope: IP address",
			"Admin ID: 1", "Sessions ended: 3",
			"Role: administrator",
			"Current session: no", "Session number: 2",
			"Scope: the other sessions",
			"Failure counts cleared: 2",
		}},
	}
	for _, tt := range tests {
		page := e.get(admin, "/admin/events", "Accept-Language", tt.lang)
		for _, want := range tt.want {
			if !strings.Contains(page.body, want) {
				t.Errorf("%s events page: got no %q, want it", tt.lang, want)
			}
		}
		// The raw keys and values no longer appear, and "by" is shown only
		// beside the label.
		for _, raw := range []string{"reason", "unknown_email", "sessions_ended", "locked_for_seconds", "by=cli", "by=admin", "Causado por", "Caused by", "1e+06"} {
			if strings.Contains(page.body, raw) {
				t.Errorf("%s events page: got %q, want it translated or left out", tt.lang, raw)
			}
		}
	}

	userPage := e.get(admin, userPath(target, ""), "Accept-Language", "es")
	for _, want := range []string{"Contadores borrados: 2", "Rol: administrador", "desde la línea de comandos"} {
		if !strings.Contains(userPage.body, want) {
			t.Errorf("user page: got no %q, want it", want)
		}
	}
}

func TestEventDetailsUnknownShownEscaped(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.addEvent(0, handlers.EventLoginFailed, map[string]any{
		"<b>odd</b>": "<script>alert(1)</script>",
		"reason":     "future_reason",
		"by":         "robot",
		"ratio":      0.25,
	})

	page := e.get(admin, "/admin/events", "Accept-Language", "es")
	for _, want := range []string{
		"&lt;b&gt;odd&lt;/b&gt;: &lt;script&gt;alert(1)&lt;/script&gt;",
		"Motivo: future_reason",
		"Causado por: robot",
		"ratio: 0.25",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("events page: got no %q, want it", want)
		}
	}
	if strings.Contains(page.body, "<script>alert(1)") || strings.Contains(page.body, "<b>odd") {
		t.Error("events page: got an unknown detail unescaped, want it escaped")
	}
}
