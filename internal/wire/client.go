package wire

import "github.com/latchauth/latch/internal/auth"

// Client is api.md's registered OAuth client. ClientSecret is set only in
// the answer that created a confidential client: it is shown once.
type Client struct {
	ClientID               string   `json:"client_id"`
	ClientSecret           string   `json:"client_secret,omitempty"`
	Name                   string   `json:"name"`
	Type                   string   `json:"type"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	CreatedAt              string   `json:"created_at"`
	UpdatedAt              string   `json:"updated_at"`
	// PreviousSecretExpiresAt is when the secret the last rotation
	// replaced stops being accepted (absent when it kept none).
	PreviousSecretExpiresAt string `json:"previous_secret_expires_at,omitempty"`
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// NewClient is c's client object.
func NewClient(c *auth.Client) Client {
	return Client{
		ClientID:               c.ID,
		Name:                   c.Name,
		Type:                   c.Type,
		RedirectURIs:           orEmpty(c.RedirectURIs),
		PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs),
		GrantTypes:             orEmpty(c.GrantTypes),
		CreatedAt:              Time(c.CreatedAt),
		UpdatedAt:              Time(c.UpdatedAt),
		// Time of a zero time is "": omitted.
		PreviousSecretExpiresAt: Time(c.PreviousSecretUntil),
	}
}

// Clients is the answer of the client listing.
type Clients struct {
	Clients []Client `json:"clients"`
}

// NewClients lists cs.
func NewClients(cs []*auth.Client) Clients {
	out := Clients{Clients: make([]Client, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, NewClient(c))
	}
	return out
}
