package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsFile is zxcvbn 4.4.2's list of 30,000 common passwords,
// one a line and lowercase. common-passwords.md gives its source and license.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords returns the set of common passwords. It is built on first
// use, so a process that never checks a new password does not pay for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 30000)
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			set[strings.ToLower(line)] = struct{}{}
		}
	}

	return set
})

// IsCommon reports whether pw, compared without regard to case, is in the
// bundled list of common passwords. It needs no network access.
func IsCommon(pw string) bool {
	_, found := commonPasswords()[strings.ToLower(pw)]
	return found
}

// CommonCount returns the number of passwords in the bundled list.
func CommonCount() int { return len(commonPasswords()) }
