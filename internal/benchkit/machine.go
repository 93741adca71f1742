package benchkit

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Machine describes where a report was measured.
type Machine struct {
	NProc      int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OSArch     string `json:"os_arch"`
	Kernel     string `json:"kernel,omitempty"`
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute averages.
	LoadStart string `json:"load_average_start"`
	LoadEnd   string `json:"load_average_end"`
	// DataDir is the event store's directory and DataDirFS its filesystem.
	DataDir      string `json:"data_dir"`
	DataDirFS    string `json:"data_dir_fs,omitempty"`
	RedisVersion string `json:"redis_version,omitempty"`
	RedisAddr    string `json:"redis_addr,omitempty"`
}

// ReadMachine reads what the machine is (the load average at start included).
func ReadMachine(dataDir string) Machine {
	m := Machine{NProc: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, LoadStart: LoadAverage(),
		DataDir: dataDir, DataDirFS: filesystemType(dataDir)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// LoadAverage is the 1, 5 and 15 minute load average ("" where /proc/loadavg is missing).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// RealRedis checks that rdb is a real Redis — one that answers INFO server with its version,
// INFO memory and MEMORY USAGE, which the memory figures need (an in-process look-alike does
// not) — and returns its version.
func RealRedis(ctx context.Context, rdb *redis.Client, probeKey string) (string, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", errNotRedis("INFO server: " + err.Error())
	}
	version := InfoFields(info)["redis_version"]
	if version == "" {
		return "", errNotRedis("INFO server has no redis_version")
	}
	if _, err := UsedMemory(ctx, rdb); err != nil {
		return "", errNotRedis("INFO memory: " + err.Error())
	}
	if err := rdb.Set(ctx, probeKey, "x", 0).Err(); err != nil {
		return "", err
	}
	defer rdb.Del(context.WithoutCancel(ctx), probeKey)
	if err := rdb.MemoryUsage(ctx, probeKey, 0).Err(); err != nil {
		return "", errNotRedis("MEMORY USAGE: " + err.Error())
	}
	return version, nil
}

type errNotRedis string

func (e errNotRedis) Error() string { return "not a real Redis: " + string(e) }
