package password

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestLongListMeetsPolicy(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(longPasswordsFile, "\n"), "\n")
	if len(lines) != 12037 {
		t.Errorf("common-passwords-long.txt: got %d lines, want 12037", len(lines))
	}

	seen := make(map[string]bool, len(lines))
	for i, line := range lines {
		if err := Validate(line); err != nil {
			t.Errorf("line %d %q: Validate got %v, want nil", i+1, line, err)
		}
		if lower := strings.ToLower(line); line != lower {
			t.Errorf("line %d %q: got upper case, want %q", i+1, line, lower)
		}
		if seen[line] {
			t.Errorf("line %d %q: repeats an earlier line", i+1, line)
		}
		seen[line] = true
	}
}

func TestCommonPasswordsPolicyCount(t *testing.T) {
	meeting := 0
	for _, pw := range commonPasswords() {
		if Validate(pw) == nil {
			meeting++
		}
	}

	// The long list's 12,037 entries and the 2 of zxcvbn's 229 entries of
	// 12 characters or more that the long list lacks.
	if meeting != 12039 {
		t.Errorf("entries that pass Validate: got %d, want 12039", meeting)
	}
}

func TestLoadCommonPasswordsSorted(t *testing.T) {
	list := loadCommonPasswords()

	if !slices.IsSorted(list) {
		t.Error("list is not sorted, so binary search misses entries")
	}
	for i := 1; i < len(list); i++ {
		if list[i] == list[i-1] {
			t.Errorf("entry %q appears twice", list[i])
		}
	}
	if len(list) > 0 && list[0] == "" {
		t.Error("list contains the empty string")
	}
}

// TestCommonPasswordsHeap bounds the heap that the loaded lists keep. The
// entries point into the embedded text, so only the slice of string
// headers (about 42,000 of 16 bytes, 0.67 MB) should stay allocated.
func TestCommonPasswordsHeap(t *testing.T) {
	const maxBytes = 1 << 20

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	list := loadCommonPasswords()

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(list)

	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d entries keep %d bytes of heap", len(list), grown)
	if grown > maxBytes {
		t.Errorf("heap kept by the lists: got %d bytes, want at most %d", grown, maxBytes)
	}
}

func BenchmarkLoadCommonPasswords(b *testing.B) {
	for b.Loop() {
		loadCommonPasswords()
	}
}
