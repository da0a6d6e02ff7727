package pos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// apiLang: English unless the client asks for German.
func apiLang(c *gin.Context) string {
	if strings.HasPrefix(c.GetHeader("Accept-Language"), "de") {
		return "de"
	}
	return "en"
}

type apiErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func (s *Server) apiError(c *gin.Context, status int, err error) {
	lang := apiLang(c)
	code := string(consentdesk.ErrorCode(err))
	switch {
	case status == http.StatusRequestEntityTooLarge:
		code = "too_large"
	case code == "":
		code = "internal"
	}
	c.AbortWithStatusJSON(status, gin.H{"error": apiErrorBody{Code: code, Message: message(lang, err), Fields: translateFields(lang, err)}})
}

// decodeJSON reads a body strictly: unknown fields are refused, so that a
// misspelt "channels" cannot silently mean "no consent".
func decodeJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	field := "body"
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		field = te.Field
	} else if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		field = strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_json", Fields: map[string]string{field: "err.unknown_field"}}
	} else if errors.Is(err, io.EOF) {
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_json", Fields: map[string]string{"body": "err.required"}}
	}
	return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_json", Fields: map[string]string{field: "err.type"}}
}

// apiCells is "cells": per channel, the topics chosen as a list
// ({"email": ["eye_test"]}) or each topic's answer as an object
// ({"email": {"eye_test": true, "offers": false}}). The unit of consent
// is the cell (channel, topic).
type apiCells map[string]map[string]bool

func (a *apiCells) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := apiCells{}
	for ch, v := range raw {
		var list []string
		if err := json.Unmarshal(v, &list); err == nil {
			out[ch] = map[string]bool{}
			for _, t := range list {
				out[ch][t] = true
			}
			continue
		}
		var answers map[string]bool
		if err := json.Unmarshal(v, &answers); err != nil {
			return &json.UnmarshalTypeError{Value: "cells", Type: reflect.TypeOf(answers), Field: ch}
		}
		out[ch] = answers
		if out[ch] == nil {
			out[ch] = map[string]bool{}
		}
	}
	*a = out
	return nil
}

// chosen is the cells as the order takes them: per channel the topics
// given; a channel named with none is still named (asked).
func (a apiCells) chosen() map[consent.Channel][]string {
	if a == nil {
		return nil
	}
	out := map[consent.Channel][]string{}
	for ch, answers := range a {
		out[consent.Channel(ch)] = []string{}
		for t, yes := range answers {
			if yes {
				out[consent.Channel(ch)] = append(out[consent.Channel(ch)], t)
			}
		}
	}
	return out
}

type apiOrderRequest struct {
	Customer struct {
		ID int64 `json:"id"`
		orders.Customer
	} `json:"customer"`
	Items        []orders.Item `json:"items"`
	DepositCents int64         `json:"deposit_cents"`
	Pickup       *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"pickup"`
	Consent struct {
		Mode           string                 `json:"mode"`
		Cells          apiCells               `json:"cells"`
		Channels       map[string]bool        `json:"channels"`
		Topics         map[string]bool        `json:"topics"`
		SignaturePNG   string                 `json:"signature_png"`
		HealthData     bool                   `json:"health_data"`
		Representative *orders.Representative `json:"representative"`
	} `json:"consent"`
	Prescription *orders.Prescription `json:"prescription"`
}

func (r apiOrderRequest) toNewOrder() (orders.NewOrder, error) {
	f := consentdesk.FieldErrors{}
	in := orders.NewOrder{Customer: r.Customer.Customer, Items: r.Items, DepositCents: r.DepositCents, Prescription: r.Prescription}
	in.Customer.ID = r.Customer.ID
	if r.Customer.ID != 0 && (r.Customer.Customer != orders.Customer{}) {
		// An existing customer with other fields: they would be ignored
		// silently; corrections go through PATCH /api/v1/customers/{id}.
		f.Add("customer.id", "err.customer_id_with_fields")
	}
	if r.Pickup != nil {
		start, err1 := time.Parse(time.RFC3339, r.Pickup.Start)
		end, err2 := time.Parse(time.RFC3339, r.Pickup.End)
		if err1 != nil {
			f.Add("pickup.start", "err.time_format")
		}
		if err2 != nil {
			f.Add("pickup.end", "err.time_format")
		}
		in.Pickup = &orders.Pickup{Start: start, End: end}
	}
	in.Consent = orders.ConsentInput{Mode: r.Consent.Mode, HealthData: r.Consent.HealthData, Cells: r.Consent.Cells.chosen(),
		Representative: r.Consent.Representative, Topics: r.Consent.Topics}
	if r.Consent.Channels != nil {
		in.Consent.Channels = map[consent.Channel]bool{}
		for k, v := range r.Consent.Channels {
			in.Consent.Channels[consent.Channel(k)] = v
		}
	}
	if r.Consent.SignaturePNG != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Consent.SignaturePNG, "data:image/png;base64,"))
		if err != nil {
			f.Add("consent.signature_png", "err.base64")
		}
		in.Consent.SignaturePNG = b
	}
	return in, f.Err()
}

// absURL builds a link to this server from the request.
func absURL(c *gin.Context, path string) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s%s", scheme, c.Request.Host, path)
}

func (s *Server) apiCreateOrder(c *gin.Context) {
	// The body is read whole first: an Idempotency-Key is bound to it.
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	var req apiOrderRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	in, err := req.toNewOrder()
	if err != nil {
		s.fail(c, err)
		return
	}
	in.APIToken = apiClient(c)
	in.APITokenID = c.GetInt64(tokenKey)
	in.IdempotencyKey = c.GetHeader("Idempotency-Key")
	in.BodySHA256 = orders.SHA256Hex(body)
	placed, err := s.db.PlaceOrder(c.Request.Context(), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The order is stored: nothing after this point may answer an error.
	ctrl := placed.Controller
	id := strconv.FormatInt(placed.Order.ID, 10)
	out := gin.H{
		"id": placed.Order.ID, "number": placed.Order.Number, "customer_id": placed.Customer.ID, "store_id": placed.Order.StoreID,
		"confirmation_url":    absURL(c, "/api/v1/orders/"+id+"/confirmation.pdf"),
		"prescription_stored": placed.PrescriptionStored,
	}
	if c.GetString(tokenScopeKey) == orders.ScopeAdmin {
		// The customer's link acts for the customer (withdrawals, an
		// e-mail grant to confirm): an orders token's program gets none.
		out["preferences_url"] = s.preferencesURL(ctrl, placed.Customer.ID, "")
	}
	c.JSON(http.StatusCreated, out)
}

func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) apiOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.order_not_found"))
		return
	}
	o, err := s.db.Order(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if s.restrictedOrder(c, o) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": o.ID, "number": o.Number, "customer_id": o.CustomerID, "status": o.Status, "consent_mode": o.ConsentMode,
		"items": o.Items, "total_cents": o.TotalCents, "deposit_cents": o.DepositCents, "balance_cents": o.BalanceCents(), "pickup": o.Pickup,
		"notice_version": o.NoticeVersionID, "staff_id": o.StaffID, "created_at": o.CreatedAt.Format(time.RFC3339), "has_prescription": o.HasPrescription,
		"signature_sha256": o.SignatureSHA256, "store_id": o.StoreID, "store_name": o.StoreName})
}

func (s *Server) apiConsents(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found"))
		return
	}
	states, byTopic, events, err := s.db.ConsentsAsTheyStand(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if events == nil {
		events = []consent.Event{}
	}
	// "channels" stays as it was (offers, what every consent meant before
	// topics); "topics" is the state per channel and topic.
	c.JSON(http.StatusOK, gin.H{"customer_id": id, "channels": channelStates(states), "topics": byTopic,
		"purposes": gin.H{string(consent.HealthData): states[consent.HealthData]}, "events": events})
}

// apiTopics is GET /api/v1/topics: the store's topics in the request's
// language (?lang=en or Accept-Language), German by default.
func (s *Server) apiTopics(c *gin.Context) {
	ctrl, err := s.db.Controller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := assets.Lang(c.Query("lang"))
	if c.Query("lang") == "" {
		lang = s.lang(c)
	}
	out := []gin.H{}
	for _, t := range ctrl.TopicList() {
		out = append(out, gin.H{"key": t.Key, "name": t.Name(lang), "description": t.Description(lang)})
	}
	c.JSON(http.StatusOK, out)
}

// channelStates is the "channels" object of docs/api.md: the four marketing
// channels, without the health-data purpose.
func channelStates(states map[consent.Channel]consent.ChannelState) gin.H {
	out := gin.H{}
	for _, ch := range consent.Channels {
		out[string(ch)] = states[ch]
	}
	return out
}

type apiConsentRequest struct {
	Cells          apiCells               `json:"cells"`
	Channels       map[string]bool        `json:"channels"`
	Topics         map[string]bool        `json:"topics"`
	Source         string                 `json:"source"`
	Note           string                 `json:"note"`
	OrderID        int64                  `json:"order_id"`
	Representative *orders.Representative `json:"representative"`
}

func (s *Server) apiRecordConsents(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found"))
		return
	}
	var req apiConsentRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	change := orders.ConsentChange{CustomerID: id, OrderID: req.OrderID, Source: consent.Source(req.Source), Note: req.Note, Channels: map[consent.Channel]bool{},
		APIToken: apiClient(c), Representative: req.Representative, Topics: req.Topics}
	for k, v := range req.Channels {
		change.Channels[consent.Channel(k)] = v
	}
	if req.Cells != nil {
		change.Cells = map[consent.Channel]map[string]bool{}
		for k, v := range req.Cells {
			change.Cells[consent.Channel(k)] = v
		}
	}
	events, err := s.db.RecordConsents(c.Request.Context(), change)
	if err != nil {
		s.fail(c, err)
		return
	}
	states, _, err := s.db.Consents(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if events == nil {
		events = []consent.Event{}
	}
	c.JSON(http.StatusOK, gin.H{"customer_id": id, "channels": channelStates(states), "purposes": gin.H{string(consent.HealthData): states[consent.HealthData]},
		"recorded": events})
}

type apiUseRequest struct {
	Channel string `json:"channel"`
	Note    string `json:"note"`
}

// apiRecordUse is POST /api/v1/customers/{id}/uses: one advertising use
// of a granted channel, for §7a UWG (the proof of a phone consent is kept
// five years from each use).
func (s *Server) apiRecordUse(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found"))
		return
	}
	var req apiUseRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	e, err := s.db.RecordUse(c.Request.Context(), orders.Use{CustomerID: id, Channel: consent.Channel(req.Channel), Note: req.Note, APIToken: apiClient(c)})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"customer_id": id, "recorded": e})
}

func (s *Server) apiVerify(c *gin.Context) {
	v, err := s.db.VerifyForCaller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	// 200 either way: the answer is the JSON's "ok", which monitoring reads.
	c.JSON(http.StatusOK, v)
}

func (s *Server) apiMarkReady(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.order_not_found"))
		return
	}
	o, err := s.db.MarkReady(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	mails, err := s.db.Mails(c.Request.Context(), followup.Filter{OrderID: o.ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": o.ID, "number": o.Number, "status": o.Status, "mails": mails})
}

// apiOutbox lists the mails with their state: ?status=failed, ?customer_id=,
// ?order_id=, ?limit= (at most 1000).
func (s *Server) apiOutbox(c *gin.Context) {
	f := followup.Filter{Status: followup.Status(c.Query("status"))}
	fields := consentdesk.FieldErrors{}
	if f.Status != "" && !validStatus(f.Status) {
		fields.Add("status", "err.choice_invalid")
	}
	for name, dst := range map[string]*int64{"customer_id": &f.CustomerID, "order_id": &f.OrderID} {
		if v := c.Query(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				fields.Add(name, "err.type")
			}
			*dst = n
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			fields.Add("limit", "err.type")
		}
		f.Limit = n
	}
	if err := fields.Err(); err != nil {
		s.fail(c, err)
		return
	}
	mails, err := s.db.Mails(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	counts, err := s.db.MailCounts(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"mails": mails, "counts": counts})
}

// apiCustomerPatch is the body of PATCH /api/v1/customers/{id}: only the
// fields given change.
type apiCustomerPatch struct {
	Salutation *string `json:"salutation"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	Street     *string `json:"street"`
	PostalCode *string `json:"postal_code"`
	City       *string `json:"city"`
	Email      *string `json:"email"`
	Mobile     *string `json:"mobile"`
	Phone      *string `json:"phone"`
	Lang       *string `json:"lang"`
	BirthDate  *string `json:"birth_date"`
}

// apiUpdateCustomer is rectification (GDPR Art. 16) for another program:
// every change logged; a changed e-mail or number closes that channel's
// consent for the old contact.
func (s *Server) apiUpdateCustomer(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	if cu.Erased() {
		s.fail(c, consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased"))
		return
	}
	var req apiCustomerPatch
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	in := cu
	for _, f := range []struct {
		v   *string
		dst *string
	}{{req.Salutation, &in.Salutation}, {req.FirstName, &in.FirstName}, {req.LastName, &in.LastName}, {req.Street, &in.Street},
		{req.PostalCode, &in.PostalCode}, {req.City, &in.City}, {req.Email, &in.Email}, {req.Mobile, &in.Mobile}, {req.Phone, &in.Phone},
		{req.Lang, &in.Lang}, {req.BirthDate, &in.BirthDate}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	changes, err := s.db.UpdateCustomerVia(c.Request.Context(), in, 0, apiClient(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	if changes == nil {
		changes = []orders.Change{}
	}
	fields := make([]string, len(changes))
	for i, ch := range changes {
		fields[i] = ch.Field
	}
	if len(changes) > 0 && !s.audit(c, orders.AuditEdit, cu.ID, strings.Join(fields, ",")) {
		return
	}
	states, _, err := s.db.Consents(c.Request.Context(), cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"customer_id": cu.ID, "changes": changes, "channels": channelStates(states)})
}
