package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Memory is the resident memory of a process, in bytes, from
// /proc/PID/status (Linux).
type Memory struct {
	// RSS is VmRSS, the resident set size when it was read.
	RSS int64 `json:"rss_bytes"`
	// PeakRSS is VmHWM, the largest resident set size since the start.
	PeakRSS int64 `json:"peak_rss_bytes"`
}

func memoryCommand(_ context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("memory", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process ID of the server")
	out := fs.String("out", "", "JSON file to write the numbers to")
	if err := parseFlags(fs, args, "out"); err != nil {
		return err
	}
	if *pid <= 0 {
		return fmt.Errorf("%w: memory needs -pid", errUsage)
	}

	memory, err := readMemory(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		return err
	}

	return writeJSON(*out, memory)
}

func readMemory(path string) (Memory, error) {
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()

	return parseMemory(f, path)
}

// parseMemory reads the VmRSS and VmHWM lines, whose values are in kB
// (1024 bytes), of a /proc/PID/status file.
func parseMemory(r io.Reader, name string) (Memory, error) {
	var memory Memory
	found := 0
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("%s: cannot parse the %s line %q", name, key, scanner.Text())
		}
		kilobytes, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: cannot parse the %s line %q: %w", name, key, scanner.Text(), err)
		}
		if key == "VmRSS" {
			memory.RSS = kilobytes * 1024
		} else {
			memory.PeakRSS = kilobytes * 1024
		}
		found++
	}
	if err := scanner.Err(); err != nil {
		return Memory{}, fmt.Errorf("read %s: %w", name, err)
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("%s: VmRSS or VmHWM line missing", name)
	}

	return memory, nil
}
