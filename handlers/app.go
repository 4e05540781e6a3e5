// Package handlers serves Portero's pages: login, dashboard, logout and the
// health endpoints.
package handlers

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/cache"
	"github.com/portero/portero/password"
	"github.com/portero/portero/session"
	"github.com/portero/portero/static"
	"github.com/portero/portero/templates"
)

// Store is the part of the database the handlers use.
type Store interface {
	UserByEmail(ctx context.Context, email string) (*db.User, error)
	UserByID(ctx context.Context, id int64) (*db.User, error)
	Ping(ctx context.Context) error

	LoginThrottle(ctx context.Context, window time.Duration, subject db.LoginSubject, ip string) (db.LoginThrottle, error)
	RecordLoginFailure(ctx context.Context, policy db.LoginPolicy, subject db.LoginSubject, ip string) (db.LoginFailures, error)
	ResetLoginFailures(ctx context.Context, subject db.LoginSubject) error

	AddUserSession(ctx context.Context, key string, userID int64, userAgent, clientIP string) error
	TouchUserSession(ctx context.Context, key string, userID int64, userAgent, clientIP string) error
	UserSessions(ctx context.Context, userID int64) ([]db.UserSession, error)
	DeleteUserSession(ctx context.Context, userID, id int64) error
	DeleteUserSessions(ctx context.Context, userID int64, exceptKey string) (int64, error)
	ChangePassword(ctx context.Context, userID int64, passwordHash, exceptKey string) (int64, error)
	ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error)

	eventStore
	adminStore
	noticeStore
	keyStore
}

// Options configures an App.
type Options struct {
	Store    Store
	Sessions *session.Manager
	Logger   *slog.Logger

	BcryptCost int
	// PasswordPepper, when not empty, is the key of peppered password
	// hashes. New hashes are peppered, and a plain hash is replaced by a
	// peppered one at the user's next login.
	PasswordPepper []byte
	IdleTimeout    time.Duration
	// CSRFSecret and CSRFPreviousSecret sign CSRF tokens; the previous one
	// is only accepted, so that a secret rotation leaves open forms valid.
	CSRFSecret         []byte
	CSRFPreviousSecret []byte
	CSRFMaxAge         time.Duration
	SecureCookies      bool

	// TrustedProxies are the peers whose forwarding headers are believed.
	TrustedProxies []*net.IPNet
	// RequireHTTPS serves plain-HTTP page requests a page that asks
	// for HTTPS, because Secure cookies cannot work without it.
	RequireHTTPS bool

	// LoginPolicy limits failed logins per account and per client IP.
	LoginPolicy db.LoginPolicy
	// ThrottleSecret keys the HMAC that turns an email into the key of its
	// login_failures row, and the key that signs device cookies. Every
	// instance must use the same value.
	ThrottleSecret []byte
	// Bcrypt bounds the bcrypt work of all requests together. Every bcrypt
	// call on the request path takes one of its slots.
	Bcrypt *password.Limiter
	// Cache, when not nil, keeps users in memory while the guard reports
	// that change notifications arrive. Pass the same guard to
	// session.NewManager, and the notifications to Changed.
	Cache *cache.Guard

	// WebAuthnRPID is the domain that security keys are bound to, and
	// WebAuthnOrigins are the origins of the pages that may use them.
	// Empty values mean localhost and http://localhost, for tests.
	WebAuthnRPID    string
	WebAuthnOrigins []string
}

// App holds the dependencies of every handler.
type App struct {
	store    Store
	sessions *session.Manager
	log      *slog.Logger
	pages    map[string]*template.Template
	// dashboardStencils render the dashboard without the template while the
	// user has no security notice to show.
	dashboardStencils map[dashboardStencilKey]*stencil
	assets            map[string]asset
	csrf              *csrf
	idleTimeout       time.Duration
	dummyHash         func() string
	trusted           []*net.IPNet
	transport         transport
	throttle          throttle
	devices           deviceCookies
	bcrypt            *password.Limiter
	hasher            password.Hasher
	// cacheGuard and users are nil without a cache.
	cacheGuard *cache.Guard
	users      *cache.Map[int64, db.User]
	// noticeMemo contains the sessions whose last query of security
	// notices found none.
	noticeMemo *cache.Map[string, struct{}]
	// busyWarning logs logins that found every bcrypt slot busy, at most
	// once a minute.
	busyWarning func(clientIP, host string)
	// failureFloor is the shortest time a failed login takes, in
	// nanoseconds; see padFailure.
	failureFloor atomic.Int64
	// pepperMissing logs failed password checks against peppered hashes
	// while PASSWORD_PEPPER is unset, at most every 10 minutes.
	pepperMissing func(clientIP, host string)
	// unavailableWarning logs 503 responses, at most once a minute.
	unavailableWarning func(args []any)
	// webauthn runs the ceremonies that register and check security keys.
	webauthn *webauthn.WebAuthn
	// pendingLogins is the cookie of a login that waits for its security
	// key.
	pendingLogins pendingLoginCookie

	// ready is false until the database schema is migrated, and readyCh
	// closes when it turns true.
	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once
}

// startupGrace is how long a page request that arrives before the schema
// is migrated waits for it. On a normal start that takes well under a
// second, so a proxy that sends traffic as soon as the port accepts
// connections gets pages, not 503s. While the database is down, requests
// get the 503 page after this wait.
const startupGrace = 3 * time.Second

// New parses the templates and reads the static files; a missing or broken
// template fails here, at start.
func New(opts Options) (*App, error) {
	if err := validatePolicy(opts.LoginPolicy); err != nil {
		return nil, err
	}
	if len(opts.ThrottleSecret) == 0 {
		return nil, errors.New("missing throttle secret: set Options.ThrottleSecret")
	}
	if opts.Bcrypt == nil {
		return nil, errors.New("missing bcrypt limiter: set Options.Bcrypt")
	}

	hasher := password.Hasher{Cost: opts.BcryptCost, Pepper: opts.PasswordPepper}
	a := &App{
		store:       opts.Store,
		sessions:    opts.Sessions,
		log:         opts.Logger,
		idleTimeout: opts.IdleTimeout,
		dummyHash:   sync.OnceValue(hasher.DummyHash),
		trusted:     opts.TrustedProxies,
		throttle: throttle{
			policy: opts.LoginPolicy,
			key:    session.DeriveKey(opts.ThrottleSecret, "login-throttle", 32),
		},
		bcrypt:     opts.Bcrypt,
		hasher:     hasher,
		noticeMemo: newNoticeMemo(),
		readyCh:    make(chan struct{}),
	}
	if opts.Cache != nil {
		a.cacheGuard = opts.Cache
		a.users = cache.NewMap[int64, db.User](opts.Cache, time.Now, userCacheTTL, userCacheEntries)
		a.store = forgettingStore{Store: opts.Store, forget: a.forgetUser}
	}
	a.unavailableWarning = newUnavailableWarning(a.log.Warn)
	a.busyWarning = rateLimitedWarning(time.Minute, func(suppressed int64, clientIP, host string) {
		a.log.Warn("A login was rejected because every bcrypt slot was busy; raise BCRYPT_CONCURRENCY if the CPUs have room.",
			"client_ip", clientIP, "host", host, "slots", a.bcrypt.Slots(), "suppressed", suppressed)
	})
	a.pepperMissing = rateLimitedWarning(10*time.Minute, func(suppressed int64, clientIP, host string) {
		a.log.Error("A password check failed because the stored hash is peppered and PASSWORD_PEPPER is unset. Every user with a peppered hash fails to log in until PASSWORD_PEPPER is set to the value that hashed it.",
			"client_ip", clientIP, "host", host, "suppressed", suppressed)
	})
	a.transport = transport{
		requireHTTPS: opts.RequireHTTPS,
		log: rateLimitedWarning(10*time.Minute, func(suppressed int64, clientIP, host string) {
			a.log.Warn("A page was requested over plain HTTP while cookies are Secure; enable HTTPS in CapRover, or set COOKIE_SECURE=false for an HTTP-only setup.",
				"client_ip", clientIP, "host", host, "suppressed", suppressed)
		}),
	}

	assets, err := loadAssets(static.FS)
	if err != nil {
		return nil, err
	}
	a.assets = assets

	rpID, origins := opts.WebAuthnRPID, opts.WebAuthnOrigins
	if rpID == "" {
		rpID = "localhost"
	}
	if len(origins) == 0 {
		origins = []string{"http://localhost"}
	}
	if a.webauthn, err = newWebAuthn(rpID, origins); err != nil {
		return nil, err
	}

	pages, err := parseTemplates(templates.FS, template.FuncMap{"asset": a.assetURL})
	if err != nil {
		return nil, err
	}
	a.pages = pages
	if a.dashboardStencils, err = a.buildDashboardStencils(); err != nil {
		return nil, err
	}

	csrfName, deviceName := "portero_csrf", "portero_device"
	if opts.SecureCookies {
		csrfName, deviceName = "__Host-portero_csrf", "__Host-portero_device"
	}
	pendingName := "portero_login_key"
	if opts.SecureCookies {
		pendingName = "__Host-portero_login_key"
	}
	a.pendingLogins = pendingLoginCookie{name: pendingName, secure: opts.SecureCookies}
	a.devices = deviceCookies{name: deviceName, secure: opts.SecureCookies, key: session.DeriveKey(opts.ThrottleSecret, "device cookie", 32)}
	a.csrf = &csrf{cookieName: csrfName, secure: opts.SecureCookies, maxAge: opts.CSRFMaxAge}
	for _, secret := range [][]byte{opts.CSRFSecret, opts.CSRFPreviousSecret} {
		if len(secret) > 0 {
			a.csrf.keys = append(a.csrf.keys, newCSRFKey(session.DeriveKey(secret, "csrf", 32)))
		}
	}

	return a, nil
}

// SetReady marks the database as migrated, so pages are served.
func (a *App) SetReady() {
	a.readyOnce.Do(func() {
		a.ready.Store(true)
		close(a.readyCh)
	})
}

// WarmUp computes the dummy hash ahead of the first failed login.
func (a *App) WarmUp() {
	a.dummyHash()
	a.calibrateFailureFloor()
}

// Handler returns the Echo instance with every route and middleware.
func (a *App) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.handleError
	e.IPExtractor = ipExtractor(a.trusted)
	e.SchemeExtractor = schemeExtractor(a.trusted)

	e.Use(middleware.Recover())
	e.Use(securityHeaders)

	// HEAD is served wherever GET is, for uptime monitors that use it.
	getOrHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getOrHead, "/healthz", a.healthz)
	e.Match(getOrHead, "/readyz", a.readyz)
	e.Match(getOrHead, "/static/:name", a.serveStatic)

	// Page middleware is attached to each route rather than to a group,
	// because an Echo group with middleware also catches every unknown path
	// and method, which would turn 404s and 405s into pages.
	pageMiddleware := []echo.MiddlewareFunc{middleware.BodyLimit("64K"), withPageTimeout, a.language, a.requireHTTPS, a.requireReady, a.csrf.middleware, a.loadSession}
	post := []string{http.MethodPost}
	page := func(methods []string, path string, h echo.HandlerFunc, extra ...echo.MiddlewareFunc) {
		e.Match(methods, path, h, append(slices.Clone(pageMiddleware), extra...)...)
	}
	page(getOrHead, "/", a.home)
	page(getOrHead, "/login", a.loginShow)
	page(post, "/login", a.loginCheck)
	page(getOrHead, "/login/key", a.loginKeyShow)
	page(post, "/login/key", a.loginKeyCheck)
	page(getOrHead, "/dashboard", a.dashboard, a.requireUser)
	page(post, "/logout", a.logout)

	// The user's own sessions and password.
	page(getOrHead, "/account/sessions", a.sessionsShow, a.requireUser)
	page(post, "/account/sessions/revoke", a.sessionRevoke, a.requireUser)
	page(post, "/account/sessions/revoke-others", a.sessionsRevokeOthers, a.requireUser)
	page(getOrHead, "/account/password", a.passwordShow, a.requireUser)
	page(post, "/account/password", a.passwordChange, a.requireUser)
	page(getOrHead, "/account/keys", a.keysShow, a.requireUser)
	page(post, "/account/keys/options", a.keyOptions, a.requireUser)
	page(post, "/account/keys", a.keyAdd, a.requireUser)
	page(post, "/account/keys/remove", a.keyRemove, a.requireUser)

	// The account overview with the user's security events, and the admin
	// pages, which respond with 403 to users without the admin role.
	page(getOrHead, "/account", a.myAccount, a.requireUser)
	page(post, "/account/notices/dismiss", a.dismissNotices, a.requireUser)
	a.adminRoutes(e.Group("/admin", append(slices.Clone(pageMiddleware), a.requireAdmin)...))

	// Unknown paths and wrong methods reach handleError as Echo's 404 and
	// 405, which picks the page language itself.

	return e
}

// healthz returns 503 until the first start has migrated the schema, and
// 200 from then on while the process serves, even when the database goes
// away later. Docker's HEALTHCHECK calls it: a new container counts as
// healthy only once it can serve pages, and a database outage does not get
// every healthy container restarted.
func (a *App) healthz(c echo.Context) error {
	if !a.ready.Load() {
		return c.String(http.StatusServiceUnavailable, "starting\n")
	}

	return c.String(http.StatusOK, "ok\n")
}

func (a *App) readyz(c echo.Context) error {
	if !a.ready.Load() {
		return c.String(http.StatusServiceUnavailable, "database not migrated yet\n")
	}
	if err := a.store.Ping(c.Request().Context()); err != nil {
		a.log.Warn("Readiness check failed.", "error", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}

	return c.String(http.StatusOK, "ready\n")
}

func (a *App) home(c echo.Context) error {
	if sessionOf(c).Authenticated() {
		return a.redirect(c, "/dashboard")
	}

	return a.redirect(c, "/login")
}
