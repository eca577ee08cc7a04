package httpx

import "testing"

func TestUnmarshalRefusesCaseVariantsOfFields(t *testing.T) {
	var dst struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	for _, body := range []string{
		`{"password":"a","PASSWORD":"b"}`,
		`{"paſſword":"x"}`,
		`{"Email":"a@mail.kz"}`,
		`{"email":"a","\u0065mail":"b"}`,
	} {
		if err := Unmarshal([]byte(body), &dst); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	if err := Unmarshal([]byte(`{"email":"a@mail.kz","password":"x"}`), &dst); err != nil || dst.Email != "a@mail.kz" {
		t.Errorf("a proper body: %v", err)
	}
}
