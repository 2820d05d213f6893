// Command testsum reads `go test -json` on its standard input, prints the
// tests' output as go test would, and ends with the list of every skipped
// test and why, so that a skip is as visible as a failure. It exits 1 when
// any test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	failed := false
	output := map[string][]string{} // package/test -> its output lines
	var skipped []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // not an event: build output
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			// As go test prints without -v: a package's lines, and a
			// test's output only when it fails.
			if e.Test != "" {
				output[key] = append(output[key], e.Output)
			} else if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
				fmt.Print(e.Output)
			}
		case "fail":
			failed = true
			for _, l := range output[key] {
				fmt.Print(l)
			}
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, why(output[key])))
			}
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			delete(output, key)
		}
	}
	slices.Sort(skipped)
	fmt.Printf("\n== %d tests skipped\n", len(skipped))
	for _, s := range skipped {
		fmt.Println("SKIPPED", s)
	}
	if failed {
		os.Exit(1)
	}
}

// why picks the skip message from a test's output: the line that says
// why, without go test's own "--- SKIP" and "=== RUN" lines.
func why(lines []string) string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return "(no reason given)"
	}
	return strings.Join(out, " / ")
}
