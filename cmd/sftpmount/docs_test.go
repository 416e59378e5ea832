package main

// The documentation stays true of the repository: the README stays short
// enough to read to the end, every relative link in it and in docs/ leads
// somewhere, docs/layout.md names every Go file there is and no other,
// and the option table in docs/options.md is what the parser accepts (the
// sshfs table beside it is walked by
// TestTheSshfsOptionTableInTheDocsIsWhatTheParserDoes).

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// readmeMaxLines is issue 34's bound: what it is, the two commands, a
// usage example, a short benchmark table and links; the rest is in docs/.
const readmeMaxLines = 250

// markdownFiles are README.md and every docs/*.md, relative to repoRoot.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(repoRoot, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	if len(files) < 5 {
		t.Fatalf("only %v: docs/ not found", files)
	}
	return files
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTheReadmeIsAtMost250Lines(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	if n := strings.Count(readme, "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move the detail to docs/ and link to it", n, readmeMaxLines)
	}
}

// headingAnchor is the anchor GitHub gives a heading: lower case, every
// character but letters, digits, spaces, '-' and '_' dropped, spaces made
// '-'.
func headingAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the anchors of a markdown file's headings (outside code
// blocks), a repeated heading getting -1, -2... as on GitHub.
func anchors(text string) map[string]bool {
	found := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimLeft(line, "#")
		if !strings.HasPrefix(heading, " ") {
			continue
		}
		a := headingAnchor(heading)
		if n := seen[a]; n > 0 {
			found[a+"-"+strconv.Itoa(n)] = true
		} else {
			found[a] = true
		}
		seen[a]++
	}
	return found
}

var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func TestEveryRelativeLinkInTheReadmeAndDocsLeadsSomewhere(t *testing.T) {
	for _, file := range markdownFiles(t) {
		text := readRepoFile(t, file)
		links := 0
		for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			links++
			target, anchor, _ := strings.Cut(link, "#")
			targetRel := file
			if target != "" {
				targetRel = filepath.Join(filepath.Dir(file), target)
			}
			b, err := os.ReadFile(filepath.Join(repoRoot, targetRel))
			if err != nil {
				t.Errorf("%s: link %s: %v", file, link, err)
				continue
			}
			if anchor != "" && !anchors(string(b))[anchor] {
				t.Errorf("%s: link %s: %s has no heading with anchor #%s", file, link, targetRel, anchor)
			}
		}
		if file == "README.md" && links < 10 {
			t.Errorf("README.md has %d relative links: it should lead to every page of docs/", links)
		}
	}
}

func TestTheReadmeLinksEveryPageOfTheDocs(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	for _, file := range markdownFiles(t)[1:] {
		if !strings.Contains(readme, "]("+filepath.ToSlash(file)) {
			t.Errorf("README.md does not link %s", file)
		}
	}
}

var layoutLine = regexp.MustCompile("(?m)^- `([^`]+\\.go)`:")

func TestTheLayoutListsEveryGoFile(t *testing.T) {
	var onDisk []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != repoRoot && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, m := range layoutLine.FindAllStringSubmatch(readRepoFile(t, "docs/layout.md"), -1) {
		listed[m[1]]++
	}
	sort.Strings(onDisk)
	for _, f := range onDisk {
		if listed[f] == 0 {
			t.Errorf("docs/layout.md has no line for %s: add one (\"- `%s`: what it holds.\")", f, f)
		}
	}
	exists := map[string]bool{}
	for _, f := range onDisk {
		exists[f] = true
	}
	for f, n := range listed {
		if !exists[f] {
			t.Errorf("docs/layout.md lists %s, which is not a Go file of the repository: remove or rename its line", f)
		}
		if n > 1 {
			t.Errorf("docs/layout.md lists %s %d times", f, n)
		}
	}
	if len(onDisk) < 50 {
		t.Fatalf("only %d Go files found under %s", len(onDisk), repoRoot)
	}
}

// refusedThoughDocumented are options the table lists as accepted that
// the parser refuses today, each with why. Issue 34 changes no behaviour,
// so the first is left as found and named here, to be fixed on its own.
var refusedThoughDocumented = map[string]string{
	"-o user": "fstab's generic `user` is in ignoredMountOptions, but ssh's User keyword is matched first and wants a value",
}

// Every option the first table of docs/options.md spells is accepted by
// the parser, with the kind of value the table names.
func TestEveryOptionInTheDocsOptionTableIsAccepted(t *testing.T) {
	text := readRepoFile(t, "docs/options.md")
	end := strings.Index(text, "\n## ")
	if end < 0 {
		t.Fatal("docs/options.md: no section after the option table")
	}
	text = text[:end]
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("root:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("PORT", "2222", "FILE", file, "PATH", file, "=SIZE", "=512M", "=OCTAL", "=022",
		"=NAME", "=web", "=DIR", "="+t.TempDir(), "=S", "=5", "=N", "=5")
	backticked := regexp.MustCompile("`([^`]+)`")
	checked := 0
	for _, line := range strings.Split(text, "\n") {
		cols := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cols) < 3 {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cols[0], -1) {
			spelled := m[1]
			var tries [][]string
			switch {
			case strings.HasPrefix(spelled, "-o "):
				tries = append(tries, []string{"-o", fill.Replace(strings.TrimPrefix(spelled, "-o "))})
			case strings.HasPrefix(spelled, "-"):
				tries = append(tries, strings.Fields(fill.Replace(spelled)))
			case strings.Contains(spelled, " "): // the generic mount options, one by one
				for _, o := range strings.Fields(spelled) {
					if o == "..." {
						continue
					}
					tries = append(tries, []string{"-o", strings.Replace(o, "*", "systemd.automount", 1)})
				}
			default:
				continue // a family (dcache_*) or a spelling of the row's option (port=)
			}
			for _, args := range tries {
				if len(args) == 1 && args[0] == "-o" {
					continue // "-o any ssh keyword": the keywords are in docs/ssh.md
				}
				checked++
				_, err := parseArgs(append([]string{"h:", "/m"}, args...))
				if why, known := refusedThoughDocumented[strings.Join(args, " ")]; known {
					if err == nil {
						t.Errorf("%q is accepted now: drop it from refusedThoughDocumented (%s)", strings.Join(args, " "), why)
					}
					continue
				}
				if err != nil {
					t.Errorf("docs/options.md lists %q: %v", strings.Join(args, " "), err)
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d options checked in docs/options.md's table", checked)
	}
}
