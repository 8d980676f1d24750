package auth

// StepError says which step of signing in failed — "token" (the
// identity provider: Entra ID), "exchange" (SharePoint turning the token
// into a cookie) or "cookie" (SharePoint refusing the session) — and what
// the person can do next. `odfb status` and the mount's log show it as
// it is.
type StepError struct {
	Step string // token, exchange or cookie
	Err  error
	Next string // what to try next, for a person
}

func (e *StepError) Error() string {
	s := "sign-in step " + e.Step + " failed: " + e.Err.Error()
	if e.Next != "" {
		s += "; next: " + e.Next
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }
