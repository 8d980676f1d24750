package spemu

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// validate checks rates and statuses.
func (f Faults) validate() error {
	for name, r := range map[string]float64{"throttle": f.ThrottleRate, "fail": f.FailRate, "drop": f.DropRate, "lost": f.LostRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("spemu: %s rate %v outside 0..1", name, r)
		}
	}
	if f.ThrottleRate+f.FailRate+f.DropRate+f.LostRate > 1 {
		return fmt.Errorf("spemu: throttle, fail, drop and lost rates add up to more than 1")
	}
	if f.ThrottleStatus != 429 && f.ThrottleStatus != 503 {
		return fmt.Errorf("spemu: throttle status %d (want 429 or 503)", f.ThrottleStatus)
	}
	if f.FailStatus != 0 && (f.FailStatus < 500 || f.FailStatus > 599) {
		return fmt.Errorf("spemu: fail status %d (want 0 or 5xx)", f.FailStatus)
	}
	if f.Latency < 0 || f.Bandwidth < 0 {
		return fmt.Errorf("spemu: negative latency or bandwidth")
	}
	return nil
}

// SetFaults replaces the injected faults; safe while serving. Requests
// already past the fault decision are not affected. Invalid values (rates
// outside 0..1, a throttle status other than 429/503) are a programming
// error and panic.
func (s *Server) SetFaults(f Faults) {
	f = f.normalized()
	if err := f.validate(); err != nil {
		panic(err)
	}
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

// drawFault decides the fate of one request with one draw from the seeded
// generator: throttle, fail, drop, lost or "" (served normally). The
// draw is made only when a rate is set, so a run without faults does not
// advance the generator. A request picked by LoseAnswers is "lost"
// without a draw.
func (s *Server) drawFault(f Faults, r *http.Request) string {
	if f.Down {
		return "down"
	}
	if s.takeLoseAnswer(r) {
		return "lost"
	}
	if s.takeThrottle(r) {
		return "throttle"
	}
	if f.ThrottleRate <= 0 && f.FailRate <= 0 && f.DropRate <= 0 && f.LostRate <= 0 {
		return ""
	}
	s.faultMu.Lock()
	u := s.rng.Float64()
	s.faultMu.Unlock()
	switch {
	case u < f.ThrottleRate:
		return "throttle"
	case u < f.ThrottleRate+f.FailRate:
		return "fail"
	case u < f.ThrottleRate+f.FailRate+f.DropRate:
		return "drop"
	case u < f.ThrottleRate+f.FailRate+f.DropRate+f.LostRate:
		return "lost"
	}
	return ""
}

// loseRule is one LoseAnswers order.
type loseRule struct {
	method, pathContains string
	n                    int
}

// LoseAnswers makes the next n requests whose method is method ("" any)
// and whose path contains pathContains ("" any) be carried out in full
// and their answers lost (see Faults.LostRate): the deterministic form
// of that fault, for tests that need one particular PUT, MOVE or upload
// chunk to succeed on the server while the client never hears of it.
func (s *Server) LoseAnswers(method, pathContains string, n int) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.lose = append(s.lose, &loseRule{method: method, pathContains: pathContains, n: n})
}

func (s *Server) takeLoseAnswer(r *http.Request) bool { return s.takeRule(&s.lose, r) }

// takeRule reports whether r matches one of rules (LoseAnswers,
// ThrottleNext) and, if so, uses up one of that rule's n.
func (s *Server) takeRule(rules *[]*loseRule, r *http.Request) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, l := range *rules {
		if (l.method == "" || strings.EqualFold(l.method, r.Method)) && strings.Contains(r.URL.Path, l.pathContains) {
			l.n--
			if l.n <= 0 {
				*rules = append((*rules)[:i], (*rules)[i+1:]...)
			}
			return true
		}
	}
	return false
}

// ThrottleNext makes the next n requests whose method is method ("" any)
// and whose path contains pathContains ("" any) be throttled as Faults
// says (status, Retry-After, ThrottleAs401, ThrottleJSON): the
// deterministic form of ThrottleRate, for tests that count requests.
func (s *Server) ThrottleNext(method, pathContains string, n int) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.throttle = append(s.throttle, &loseRule{method: method, pathContains: pathContains, n: n})
}

func (s *Server) takeThrottle(r *http.Request) bool { return s.takeRule(&s.throttle, r) }

// writeThrottle answers like SharePoint's throttling: 429 with the 21-byte
// plain-text body, or 503 "Server Too Busy", both with Retry-After; or,
// with the [unc] switches, the same as a 401, without Retry-After, or
// with a JSON body.
func (s *Server) writeThrottle(w http.ResponseWriter, f Faults) {
	h := w.Header()
	if !f.NoRetryAfter {
		h.Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	status := f.ThrottleStatus
	body := "429 TOO MANY REQUESTS"
	if status == http.StatusServiceUnavailable {
		body = "Server Too Busy"
	}
	if f.ThrottleAs401 {
		status, body = http.StatusUnauthorized, "429 TOO MANY REQUESTS"
	}
	if f.ThrottleJSON {
		h.Set("Content-Type", "application/json")
		body = `{"error":{"code":"activityLimitReached","message":"The request has been throttled","innerError":{"code":"throttledRequest"}}}`
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// writeFail answers an injected server failure.
func (s *Server) writeFail(w http.ResponseWriter, f Faults) {
	code := f.FailStatus
	if code == 0 {
		s.faultMu.Lock()
		code = []int{500, 502, 503}[s.rng.IntN(3)]
		s.faultMu.Unlock()
	}
	body := strconv.Itoa(code) + " " + http.StatusText(code)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write([]byte(body))
}
