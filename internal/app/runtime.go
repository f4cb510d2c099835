package app

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/password"
)

// tuneGC applies --gc-memory-limit-mib to this process (see password.HeapLimit and TuneGC) and
// says what it set, or returns "" when it left Go's defaults: with -1, or when the operator set
// GOGC or GOMEMLIMIT in the environment and no explicit limit.
func tuneGC(cfg config.Config, getenv func(string) string) string {
	limit := int64(cfg.GCMemoryLimitMiB) << 20
	switch {
	case cfg.GCMemoryLimitMiB < 0:
		return ""
	case cfg.GCMemoryLimitMiB == 0:
		if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
			return ""
		}
		limit = password.HeapLimit(passwordParams(cfg), password.Slots(cfg.PasswordMaxHashes))
	}
	password.TuneGC(limit)
	return fmt.Sprintf("Garbage collector: a %d MiB heap budget for password-hash memory (--gc-memory-limit-mib)", limit>>20)
}

// mountPprof serves Go's runtime profiles under /debug/pprof/ on mux (--pprof: on the
// metrics listener only, never the citizens').
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
