package handlers

import "fmt"

// formError is a rejected form: the status of the response and the message
// that the page shows next to the form, so the user can correct it and send
// it again.
type formError struct {
	Status int
	Key    string
	Args   []any
}

func (e *formError) Error() string {
	return fmt.Sprintf("form rejected: %d %s", e.Status, e.Key)
}
