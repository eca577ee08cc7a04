package metrics

import "github.com/prometheus/client_golang/prometheus"

// deskCounters are the service-centre desk's metrics: look-ups, actions by kind,
// failed console sign-ins by reason.
type deskCounters struct {
	lookups       prometheus.Counter
	actions       *prometheus.CounterVec
	signInsFailed *prometheus.CounterVec
}

func newDeskCounters(r *prometheus.Registry) deskCounters {
	d := deskCounters{
		lookups: prometheus.NewCounter(prometheus.CounterOpts{Name: "kilt_operator_lookups_total",
			Help: "Account look-ups by console operators."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_operator_actions_total",
			Help: "Console operators' actions on accounts, by kind (lock, unlock, revoke-sessions, recovery-code, channel-email, channel-phone)."},
			[]string{"kind"}),
		signInsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kilt_console_signin_failures_total",
			Help: "Failed console sign-ins, by reason (password, not_operator, totp, totp_missing, throttled)."},
			[]string{"reason"}),
	}
	r.MustRegister(d.lookups, d.actions, d.signInsFailed)
	for _, k := range []string{"lock", "unlock", "revoke-sessions", "recovery-code"} {
		d.actions.WithLabelValues(k)
	}
	return d
}

// OperatorLookup counts a look-up.
func (m *Metrics) OperatorLookup() { m.desk.lookups.Inc() }

// OperatorAction counts an action of kind.
func (m *Metrics) OperatorAction(kind string) { m.desk.actions.WithLabelValues(kind).Inc() }

// ConsoleSignInFailed counts a failed console sign-in.
func (m *Metrics) ConsoleSignInFailed(reason string) {
	m.desk.signInsFailed.WithLabelValues(reason).Inc()
}
