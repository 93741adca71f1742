package benchkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Report is one run's figures: machine information, settings and a table per section. It
// prints as Markdown tables (WriteText) or as JSON (WriteJSON).
type Report struct {
	Title    string     `json:"title"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Machine  Machine    `json:"machine"`
	Settings []Setting  `json:"settings"`
	Sections []*Section `json:"sections"`
	// Errors are the run's failures, each prefixed with its section (also in Section.Errors).
	Errors []string `json:"errors"`
}

// Setting is one setting of the run, in the order given.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Column is one figure of a section's rows: Key names it in JSON, Title and Unit head the column.
type Column struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	Unit  string `json:"unit,omitempty"`
}

// V are a row's figures by column key; a column without a figure prints "—".
type V map[string]float64

// Row is one line of a section.
type Row struct {
	Label  string `json:"label"`
	Values V      `json:"values"`
	Note   string `json:"note,omitempty"`
}

// Section is one table.
type Section struct {
	Name    string   `json:"name"`
	Note    string   `json:"note,omitempty"`
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	Errors  []string `json:"errors,omitempty"`
	report  *Report
}

// Set records a setting.
func (r *Report) Set(key, value string) { r.Settings = append(r.Settings, Setting{key, value}) }

// Section starts a new table.
func (r *Report) Section(name, note string, cols ...Column) *Section {
	s := &Section{Name: name, Note: note, Columns: cols, report: r}
	r.Sections = append(r.Sections, s)
	return s
}

// Add appends a row. Figures that are not finite (a division by a zero count) are left out.
func (s *Section) Add(label string, v V) { s.AddNote(label, v, "") }

// AddNote appends a row with a note printed after the table.
func (s *Section) AddNote(label string, v V, note string) {
	for k, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			delete(v, k)
		}
	}
	s.Rows = append(s.Rows, Row{Label: label, Values: v, Note: note})
}

// Fail records an error of the section (nil is ignored) and reports whether there was one.
func (s *Section) Fail(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	s.Errors = append(s.Errors, msg)
	s.report.Errors = append(s.report.Errors, s.Name+": "+msg)
	return true
}

// Err is every recorded error, joined; nil when the run had none.
func (r *Report) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	if len(r.Errors) == 1 {
		return errors.New(r.Errors[0])
	}
	return fmt.Errorf("%d errors, first: %s", len(r.Errors), r.Errors[0])
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as Markdown: a heading and a table per section.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	m := r.Machine
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	row("started", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	row("wall time", r.Finished.Sub(r.Started).Round(100*time.Millisecond).String())
	row("CPUs", fmt.Sprintf("nproc %d, GOMAXPROCS %d, %s", m.NProc, m.GOMAXPROCS, m.CPUModel))
	row("Go", m.GoVersion+" "+m.OSArch)
	row("kernel", m.Kernel)
	load := m.LoadStart + " at start"
	if m.LoadEnd != "" {
		load += ", " + m.LoadEnd + " at end"
	}
	row("load average (1/5/15 min)", load)
	fs := m.DataDir
	if m.DataDirFS != "" {
		fs += " (" + m.DataDirFS + ")"
	}
	row("data directory", fs)
	if m.RedisVersion != "" {
		row("Redis", m.RedisVersion+" at "+m.RedisAddr)
	}
	for _, s := range r.Settings {
		row(s.Key, s.Value)
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Name)
		if s.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", s.Note)
		}
		if len(s.Rows) > 0 {
			writeTable(&b, s)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "\nERROR: %s\n", e)
		}
	}
	if len(r.Errors) == 0 {
		fmt.Fprintf(&b, "\nerrors: none\n")
	} else {
		fmt.Fprintf(&b, "\nerrors: %d\n", len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTable(b *strings.Builder, s *Section) {
	header := []string{""}
	for _, c := range s.Columns {
		h := c.Title
		if c.Unit != "" {
			h += " (" + c.Unit + ")"
		}
		header = append(header, h)
	}
	cells := [][]string{header}
	var notes []string
	for _, r := range s.Rows {
		line := []string{r.Label}
		if r.Note != "" {
			notes = append(notes, r.Label+": "+r.Note)
		}
		for _, c := range s.Columns {
			v, ok := r.Values[c.Key]
			if !ok {
				line = append(line, "—")
				continue
			}
			line = append(line, Format(v, c.Unit))
		}
		cells = append(cells, line)
	}
	width := make([]int, len(header))
	for _, line := range cells {
		for i, c := range line {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	pad := func(s string, w int, right bool) string {
		n := w - len([]rune(s))
		if n <= 0 {
			return s
		}
		if right {
			return strings.Repeat(" ", n) + s
		}
		return s + strings.Repeat(" ", n)
	}
	for i, line := range cells {
		b.WriteString("|")
		for j, c := range line {
			b.WriteString(" " + pad(c, width[j], j > 0 && i > 0) + " |")
		}
		b.WriteString("\n")
		if i == 0 {
			b.WriteString("|")
			for j := range line {
				if j == 0 {
					b.WriteString(strings.Repeat("-", width[j]+2) + "|")
				} else {
					b.WriteString(strings.Repeat("-", width[j]+1) + ":|")
				}
			}
			b.WriteString("\n")
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
}

// Format prints a figure for its unit: whole numbers with thousands separators from 100 up,
// two significant decimals below.
func Format(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	switch unit {
	case "%":
		return fmt.Sprintf("%.0f", v)
	case "MiB", "x":
		return fmt.Sprintf("%.1f", v)
	}
	a := math.Abs(v)
	switch {
	case a >= 100 || v == math.Trunc(v):
		return thousands(int64(math.Round(v)))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Ms is d in milliseconds; Us in microseconds (report figures).
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Us is d in microseconds.
func Us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// LoadColumns are the columns of a load run's row (Values): rate in unit (e.g. "requests/s"),
// p50 and p99, CPU per operation of this process and of Redis, operations and failures.
func LoadColumns(unit string) []Column {
	return []Column{
		{Key: "rate", Title: "throughput", Unit: unit},
		{Key: "p50", Title: "p50", Unit: "ms"},
		{Key: "p99", Title: "p99", Unit: "ms"},
		{Key: "cpu", Title: "CPU/op", Unit: "µs"},
		{Key: "redis_cpu", Title: "Redis CPU/op", Unit: "µs"},
		{Key: "ops", Title: "ops"},
		{Key: "errors", Title: "errors"},
	}
}

// Values are a load run's figures under the keys of LoadColumns.
func (r Result) Values() V {
	v := V{"rate": r.PerSecond, "p50": Ms(r.P50), "p99": Ms(r.P99), "cpu": Us(r.CPUPerOp),
		"ops": float64(r.Ops), "errors": float64(r.Errors)}
	if r.RedisMeasured {
		v["redis_cpu"] = Us(r.RedisCPUPerOp)
	}
	return v
}

// With adds figures to v (and returns it).
func (v V) With(more V) V {
	for k, x := range more {
		v[k] = x
	}
	return v
}
