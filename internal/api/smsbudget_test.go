package api_test

import (
	"fmt"
	"testing"

	"kilt/internal/kilttest"
)

// TestRegistrationsCannotSpendTheRecoveryReserve: anonymous registrations spend at most
// their share of the daily SMS budget, so a citizen's recovery code still goes out.
func TestRegistrationsCannotSpendTheRecoveryReserve(t *testing.T) {
	env := map[string]string{"KILT_SMS_DAILY_BUDGET": "4", "KILT_SMS_RECOVERY_RESERVE": "50"}
	forEachDialect(t, env, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77051234567", goodPassword)
		for i := range 6 {
			r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": fmt.Sprintf("+7701%07d", 2000000+i*10001),
				"password": goodPassword, "password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion})
			if r.Status != 202 {
				t.Fatalf("registration %d: %d %s", i, r.Status, r.Body)
			}
		}
		e.Deliver(t)
		if got := len(e.SMS.Messages()); got != 2 {
			t.Errorf("registration codes sent: %d, want 2 (half of a budget of 4)", got)
		}
		if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77051234567"}); r.Status != 202 {
			t.Fatalf("recovery: %d %s", r.Status, r.Body)
		}
		e.Deliver(t)
		if got := e.SMSTo("+77051234567"); len(got) != 1 {
			t.Errorf("recovery codes received after the registrations: %d, want 1", len(got))
		}
	})
}
