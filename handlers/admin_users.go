package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// adminUsersData is the data of the user list.
type adminUsersData struct {
	Users []adminUserRow
	// PrevURL and NextURL link the neighboring pages of the list, or are "".
	PrevURL string
	NextURL string
	Form    adminCreateForm
	// NeedPassword adds the current password field to every form, because
	// the admin's login is older than reauthWindow.
	NeedPassword bool
	ReauthWindow string
}

// adminCreateForm keeps what the admin typed when the new user is
// rejected, except the passwords.
type adminCreateForm struct {
	Email string
	Name  string
	Admin bool
}

func (a *App) adminUsers(c echo.Context) error {
	return a.showAdminUsers(c, http.StatusOK, adminCreateForm{}, nil)
}

// showAdminUsers renders the page of the user list that the page query
// parameter selects, with the create form and, if failed is not nil, its
// message.
func (a *App) showAdminUsers(c echo.Context, status int, form adminCreateForm, failed *formError) error {
	pageNumber, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || pageNumber < 1 {
		pageNumber = 1
	}

	// Reading one row more than a page shows whether a next page exists.
	users, err := a.store.ListUsers(c.Request().Context(), adminUsersPerPage+1, (pageNumber-1)*adminUsersPerPage)
	if err != nil {
		return err
	}

	page := a.newPage(c, "admin.users_title")
	data := adminUsersData{
		Form:         form,
		NeedPassword: !a.recentlyAuthenticated(c),
		ReauthWindow: i18n.FormatDuration(page.Lang, reauthWindow),
	}
	if len(users) > adminUsersPerPage {
		users = users[:adminUsersPerPage]
		data.NextURL = fmt.Sprintf("/admin/users?page=%d", pageNumber+1)
	}
	if pageNumber > 1 {
		data.PrevURL = fmt.Sprintf("/admin/users?page=%d", pageNumber-1)
	}
	for i := range users {
		data.Users = append(data.Users, newAdminUserRow(page.Lang, &users[i].User, users[i].ActiveSessions))
	}
	if failed != nil {
		page.Error = page.T(failed.Key, failed.Args...)
	}
	page.Data = data

	return a.render(c, status, "admin_users", page)
}

// adminCreateUser creates a user from the form of the user list.
func (a *App) adminCreateUser(c echo.Context) error {
	admin := userOf(c)
	form := adminCreateForm{
		Email: strings.TrimSpace(c.Request().PostFormValue("email")),
		Name:  strings.TrimSpace(c.Request().PostFormValue("name")),
		Admin: c.Request().PostFormValue("admin") == "1",
	}
	pw, confirm := c.Request().PostFormValue("password"), c.Request().PostFormValue("password_confirm")

	if failed := a.validateNewUser(form, pw, confirm); failed != nil {
		return a.showAdminUsers(c, failed.Status, form, failed)
	}

	hash, err := a.reauthAndHash(c, pw)
	var failed *formError
	if errors.As(err, &failed) {
		return a.showAdminUsers(c, failed.Status, form, failed)
	}
	if err != nil {
		return err
	}

	role := db.RoleUser
	if form.Admin {
		role = db.RoleAdmin
	}
	user, err := a.store.CreateUserWithRole(c.Request().Context(), form.Email, form.Name, hash, role)
	if errors.Is(err, db.ErrEmailTaken) {
		return a.showAdminUsers(c, http.StatusConflict, form, &formError{Status: http.StatusConflict, Key: "admin.email_taken"})
	}
	if err != nil {
		return err
	}
	a.event(c, EventUserCreated, user.ID, adminEventDetails(admin, "role", role)...)

	return a.redirect(c, fmt.Sprintf("/admin/users/%d?done=created", user.ID))
}

// validateNewUser checks the create form before any bcrypt work.
func (a *App) validateNewUser(form adminCreateForm, pw, confirm string) *formError {
	invalid := func(key string) *formError {
		return &formError{Status: http.StatusUnprocessableEntity, Key: key}
	}

	switch {
	case form.Email == "" || len(form.Email) > maxEmailLength || !strings.Contains(form.Email, "@") ||
		!utf8.ValidString(form.Email) || strings.ContainsFunc(form.Email, unicode.IsSpace) || strings.ContainsFunc(form.Email, unicode.IsControl):
		return invalid("admin.email_invalid")
	case !utf8.ValidString(form.Name) || utf8.RuneCountInString(form.Name) > maxDisplayNameLength || strings.ContainsFunc(form.Name, unicode.IsControl):
		return invalid("admin.name_invalid")
	}

	return a.validateNewPassword(form.Email, pw, confirm)
}

// validateNewPassword checks a new password, typed twice, for the account
// with the given email.
func (a *App) validateNewPassword(email, pw, confirm string) *formError {
	key := ""
	switch {
	case pw == "" || confirm == "":
		key = "password.new_missing"
	case pw != confirm:
		key = "password.mismatch"
	default:
		if err := a.hasher.ValidateNew(pw, email); err != nil {
			key = adminPasswordKey(err)
		}
	}
	if key == "" {
		return nil
	}

	return &formError{Status: http.StatusUnprocessableEntity, Key: key}
}

// reauthAndHash checks the admin's re-authentication and then hashes the
// new password. The two bcrypt calls take a slot each, one after the other,
// so that a request never holds two slots at once.
func (a *App) reauthAndHash(c echo.Context, pw string) (string, error) {
	if err := a.reauthenticate(c); err != nil {
		return "", err
	}

	return a.hashNewPassword(c, pw)
}
