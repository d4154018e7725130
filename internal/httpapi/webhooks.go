package httpapi

// Webhooks under the admin API (api.md "Webhooks and user data").

import (
	"net/http"
	"net/url"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

type createWebhookRequest struct {
	URL    string    `json:"url"`
	Events *[]string `json:"events"`
}

func (q createWebhookRequest) check() error {
	if err := required("url", q.URL); err != nil {
		return err
	}
	if q.Events == nil {
		return badRequest(`field "events" is required`)
	}
	return nil
}

type patchWebhookRequest struct {
	URL    *string   `json:"url"`
	Events *[]string `json:"events"`
}

// readOnlyFields: PATCH refuses a field it cannot change (the secret is
// never changed: delete the webhook and create another).
func (patchWebhookRequest) readOnlyFields() []string {
	return []string{"id", "secret", "created_at", "updated_at"}
}

func (s *server) handleCreateWebhook() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[createWebhookRequest](w, r)
		if err != nil {
			return err
		}
		e, secret, err := s.svc.CreateWebhook(r.Context(), actor, q.URL, *q.Events)
		if err != nil {
			return err
		}
		out := wire.NewWebhook(e)
		out.Secret = secret
		w.Header().Set("Location", "/admin/v1/webhooks/"+url.PathEscape(e.ID))
		encode(w, http.StatusCreated, out)
		return nil
	}
}

func (s *server) handleListWebhooks() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		list, err := s.svc.Webhooks(r.Context())
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewWebhooks(list))
		return nil
	}
}

func (s *server) handleGetWebhook() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		e, err := s.svc.Webhook(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewWebhook(e))
		return nil
	}
}

func (s *server) handlePatchWebhook() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[patchWebhookRequest](w, r)
		if err != nil {
			return err
		}
		e, err := s.svc.UpdateWebhook(r.Context(), actor, r.PathValue("id"), auth.WebhookPatch{URL: q.URL, Events: q.Events})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewWebhook(e))
		return nil
	}
}

func (s *server) handleDeleteWebhook() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if err := s.svc.DeleteWebhook(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *server) handleWebhookDeliveries() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		q := r.URL.Query()
		limit, err := queryLimit(q)
		if err != nil {
			return err
		}
		page, err := s.svc.WebhookDeliveries(r.Context(), r.PathValue("id"), q.Get("cursor"), limit)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewDeliveries(page))
		return nil
	}
}

func (s *server) handleRetryDelivery() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		d, err := s.svc.RetryWebhookDelivery(r.Context(), actor, r.PathValue("id"), r.PathValue("delivery_id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusAccepted, wire.NewDelivery(d))
		return nil
	}
}
