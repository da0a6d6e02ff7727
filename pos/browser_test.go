package pos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

// The tablet and the customer's phone in a real browser: Debian's
// headless Chromium driven by chromedp against the real server on
// 127.0.0.1. Each step is checked at the viewport it is used at (no
// horizontal overflow, touch targets of 44 px, readable text), with
// axe-core (WCAG 2.1 A and AA; serious and critical findings fail), for
// keyboard reach and for a single language, and saved as a screenshot.

var chromeNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func chromePath(t testing.TB) string {
	t.Helper()
	for _, n := range chromeNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	missingTool(t, "Chromium", "apt-get install -y chromium")
	return ""
}

// axeScript is axe-core from the npm package pinned in
// testdata/npm/package-lock.json, which .ci/run installs. The tests
// inject it into the pages they check; ConsentDesk never serves it.
func axeScript(t testing.TB) string {
	t.Helper()
	js, err := os.ReadFile(filepath.Join("testdata", "npm", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		missingTool(t, "axe-core", "npm ci --prefix pos/testdata/npm")
	}
	return string(js)
}

// chromeOptions are the options every test's Chromium starts with.
func chromeOptions(t testing.TB, path string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		// Chromium makes a directory under TMPDIR for its singleton socket
		// and leaves it there when it is stopped: one in /tmp for every
		// browser a run started. The test's own directory takes it, and
		// goes with the test (its cleanup runs after the browser's, which
		// is registered later).
		chromedp.Env("TMPDIR="+t.TempDir()),
		// The store network may be offline: resolve no name at all, so that
		// anything that tried to leave 127.0.0.1 would fail, and is seen.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"))
}

// stepTimeout is how long one step in the browser may take: a page
// load, a click and what it starts, a script, a check. Each step has its
// own, and the test none: on a slow machine the steps and the test take
// longer, but only a step that hangs fails (a 3-minute deadline for the
// whole test ran out on a loaded machine while every step was moving).
const stepTimeout = 30 * time.Second

type browser struct {
	t     *testing.T
	e     *env
	ctx   context.Context // the browser's, without a deadline; each step derives its own
	shots string
	mu    sync.Mutex
	urls  []string
	step  int
	axeJS string
}

type viewport struct {
	name string
	w, h int64
}

var (
	tabletLandscape = viewport{"tablet-landscape", 1024, 768}
	tabletPortrait  = viewport{"tablet-portrait", 768, 1024}
	phone           = viewport{"phone", 390, 844}
)

func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	path := chromePath(t)
	opts := append(chromeOptions(t, path), chromedp.Flag("lang", "de-DE"))
	if e.ca != nil {
		// The tablet trusts the store's CA, and nothing broader: the pin
		// is the CA's key, as the pairing installs it.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", e.ca.SPKIHash()))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	dir := os.Getenv("CONSENTDESK_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "consentdesk-screenshots")
	}
	b := &browser{t: t, e: e, ctx: ctx, shots: filepath.Join(dir, t.Name())}
	os.RemoveAll(b.shots)
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", b.shots)
	// The first call starts Chromium. Its context must not end (chromedp
	// stops the browser with it), so its step's deadline stops the
	// browser from outside instead.
	hung := time.AfterFunc(stepTimeout, cancelAlloc)
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	if !hung.Stop() {
		t.Fatalf("start Chromium: no answer within %s: %v", stepTimeout, err)
	}
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// A German tablet: the browser asks for German, as the store's would.
	step, done := b.stepContext()
	_, err = chromedp.Call(step, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9"}})
	done()
	if err != nil {
		b.fail("set Accept-Language", err)
	}
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.urls = append(b.urls, ev.Request.URL)
			b.mu.Unlock()
		}
	}()
	return b
}

// stepContext is the context of one step in the browser, with its own deadline
// (stepTimeout).
func (b *browser) stepContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// fail ends the test at a step that failed, named by what it did and by
// the test's line; one that ran out of time says so.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		b.t.Fatalf("browser step %s (%s): no answer within %s: %v", what, testLine(), stepTimeout, err)
	}
	b.t.Fatalf("browser step %s (%s): %v", what, testLine(), err)
}

// testLine is the line of the test function (or a closure in it) that
// the browser's helpers were called from.
func testLine() string {
	pc := make([]uintptr, 32)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, "pos_test.Test") {
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		if !more {
			return "?"
		}
	}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.doing("actions", actions...)
}

// doing is do with a name for the step, for its failure.
func (b *browser) doing(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(fmt.Sprintf("eval %q", js[:min(len(js), 60)]), err)
	}
	return v
}

func (b *browser) open(vp viewport, path string) {
	b.t.Helper()
	b.doing("open "+path+" at "+vp.name, chromedp.EmulateViewport(vp.w, vp.h), chromedp.Navigate(b.e.srv.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *browser) location() string {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fail("read the location", err)
	}
	return strings.TrimPrefix(u, b.e.srv.URL)
}

// submit clicks and waits for the next page, which every form here
// leads to (the server answers each, a message included; no script stops
// one). The click and the wait are one step.
func (b *browser) submit(sel string) {
	b.t.Helper()
	what := "click on " + sel
	ctx, cancel := b.stepContext()
	defer cancel()
	// The page before the click carries a mark and the next one does not,
	// also where both have the same address (a form shown again with a
	// message, or a redirect back to where the form was): the next page
	// is told by the mark, not by the time it takes to come.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__beforeSubmit = true`), chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fail(what, err)
	}
	for {
		// The click's navigation may replace the document while the
		// question is asked (found under load: "Inspected target navigated
		// or closed"): then ask the new document.
		state, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[document.readyState, window.__beforeSubmit === true]`))
		switch {
		case err != nil && strings.Contains(err.Error(), "navigated or closed") && ctx.Err() == nil:
		case err != nil:
			b.fail(what+", waiting for the next page", err)
		case state[0] == "complete" && state[1] == false:
			b.doing(what+", the next page", chromedp.WaitReady(chromedp.CSS("body")))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check looks at the page as it is now, at its viewport, and saves a
// screenshot named after the step.
func (b *browser) check(vp viewport, name, lang string) {
	b.t.Helper()
	b.step++
	b.do(chromedp.WaitReady(chromedp.CSS("body")))
	var png []byte
	var err error
	for i := 0; i < 30; i++ {
		// Right after a navigation on a busy machine the page may not
		// have been laid out yet ("cannot take screenshot with 0 width").
		// Each try has its own deadline: on a loaded machine a capture
		// has been seen to never answer, and must not hang the run.
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.fail("screenshot of "+name+" at "+vp.name, err)
	}
	os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%s.png", b.step, name, vp.name)), png, 0o644)
	for _, p := range b.problems(lang) {
		b.t.Errorf("%s at %s: %s", name, vp.name, p)
	}
}

// problems lists what is wrong with the page in the browser now.
func (b *browser) problems(lang string) []string {
	b.t.Helper()
	var out []string
	if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`) {
		out = append(out, fmt.Sprintf("the page is wider than the screen (%d px)", eval[int](b, `document.documentElement.scrollWidth`)))
	}
	for _, s := range eval[[]string](b, jsSmallTargets) {
		out = append(out, "touch target under 44 px: "+s)
	}
	for _, s := range eval[[]string](b, jsSmallText) {
		out = append(out, "text under 14 px: "+s)
	}
	if !eval[bool](b, `!!document.querySelector('meta[name=viewport][content*="width=device-width"]')`) {
		out = append(out, "no viewport meta")
	}
	if got := eval[string](b, `document.documentElement.lang`); got != lang {
		out = append(out, fmt.Sprintf("<html lang=%q>, want %q", got, lang))
	}
	out = append(out, b.axe(lang)...)
	return append(out, b.otherLanguage(lang)...)
}

// axe runs axe-core; serious and critical findings are problems, the
// others are logged. Read at the first check, so that a test which
// checks no page does not need it.
func (b *browser) axe(lang string) []string {
	b.t.Helper()
	if b.axeJS == "" {
		b.axeJS = axeScript(b.t)
	}
	if !eval[bool](b, `typeof axe !== "undefined"`) {
		// Injected by the test only; ConsentDesk never serves it.
		b.doing("inject axe-core", chromedp.Evaluate[chromedp.Void](b.axeJS))
	}
	raw := eval[string](b, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))}))`)
	var res struct {
		Passes     int
		Violations []struct {
			ID, Impact, Help string
			Nodes            []string
		}
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		b.t.Fatal(err)
	}
	if res.Passes == 0 {
		b.t.Fatal("axe-core checked nothing")
	}
	var out []string
	for _, v := range res.Violations {
		msg := fmt.Sprintf("axe %s (%s): %s at %v", v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, msg)
		} else {
			b.t.Log(msg)
		}
	}
	return out
}

// otherLanguage: sentences of the other language's catalogue on the page.
func (b *browser) otherLanguage(lang string) []string {
	b.t.Helper()
	other := "en"
	if lang == "en" {
		other = "de"
	}
	text := eval[string](b, `document.body.innerText`)
	var out []string
	for _, phrase := range phrases(other, lang) {
		if strings.Contains(text, phrase) {
			out = append(out, fmt.Sprintf("the %s page shows %s text %q", lang, other, phrase))
		}
	}
	return out
}

var placeholder = regexp.MustCompile(`%[a-z]`)

// phrases are the catalogue's sentences in lang that differ from the other
// language, cut at placeholders, and long enough to mean something.
func phrases(lang, other string) []string {
	var out []string
	for _, k := range assets.Keys(lang) {
		v, w := assets.T(lang, k), assets.T(other, k)
		if v == w {
			continue
		}
		for _, part := range placeholder.Split(v, -1) {
			if part = strings.TrimSpace(part); len(part) >= 14 && strings.Contains(part, " ") && !strings.Contains(w, part) {
				out = append(out, part)
			}
		}
	}
	return out
}

// keyboard tabs through the page and reports controls never focused.
func (b *browser) keyboard(where string) {
	b.t.Helper()
	// A date or time input is one control but three tab stops (its day,
	// month and year, or hour, minute and period), so it counts thrice.
	n := eval[int](b, `window.__reached = new Set(); document.addEventListener("focusin", e => window.__reached.add(e.target));
		document.activeElement && document.activeElement.blur(); `+jsControls+`.reduce((n, el) => n + (el.type === "date" || el.type === "time" ? 3 : 1), 0)`)
	for i := 0; i < n+8; i++ {
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	// In a radio group Tab stops at one radio and the arrow keys choose.
	for _, s := range eval[[]string](b, jsControls+`.filter(el => !window.__reached.has(el) &&
			!(el.type === "radio" && [...window.__reached].some(r => r.type === "radio" && r.name === el.name)))
		.map(el => el.outerHTML.slice(0, 80))`) {
		b.t.Errorf("%s: not reachable by keyboard: %s", where, s)
	}
}

const jsControls = `Array.from(document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary, canvas[tabindex]"))
	.filter(el => !el.disabled && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden" && !el.closest("details:not([open]) > :not(summary)"))`

// A target counts with its label: a checkbox's label toggles it. Links
// inside running text are exempt (WCAG 2.5.5, inline).
const jsSmallTargets = `(() => {
	const out = [];
	for (const el of ` + jsControls + `) {
		if (el.tagName === "A" && el.closest("p, li, dd, td") && !el.classList.contains("button")) continue;
		let r = el.getBoundingClientRect();
		let w = r.width, h = r.height;
		if (el.labels && el.labels.length) {
			for (const l of el.labels) { const lr = l.getBoundingClientRect(); w = Math.max(w, lr.width); h = Math.max(h, lr.height); }
		}
		if (w < 44 || h < 44) out.push(el.outerHTML.slice(0, 80) + " " + Math.round(w) + "x" + Math.round(h));
	}
	return out;
})()`

const jsSmallText = `(() => {
	const out = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	while (walk.nextNode()) {
		const n = walk.currentNode, el = n.parentElement;
		if (!n.textContent.trim() || !el || el.getClientRects().length === 0 || el.closest(".sr-only")) continue;
		const size = parseFloat(getComputedStyle(el).fontSize);
		if (size < 14) out.push(n.textContent.trim().slice(0, 40) + " " + size + "px");
	}
	return out.slice(0, 5);
})()`

// offline: every request went to the server on 127.0.0.1.
func (b *browser) offline() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.urls) == 0 {
		b.t.Fatal("no requests were seen: the network listener is not working")
	}
	for _, raw := range b.urls {
		u, err := url.Parse(raw)
		if err != nil {
			b.t.Errorf("request to %q", raw)
			continue
		}
		if u.Scheme == "data" || u.Scheme == "blob" || u.Scheme == "about" {
			continue
		}
		if u.Hostname() != "127.0.0.1" {
			b.t.Errorf("a request left 127.0.0.1: %s", raw)
		}
	}
	b.t.Logf("%d requests, all to 127.0.0.1", len(b.urls))
}

// fetch gets a file as the signed-in browser does, with its cookies.
func (b *browser) fetch(path string) []byte {
	b.t.Helper()
	b64 := eval[string](b, `fetch("`+path+`").then(async r => { const a = new Uint8Array(await r.arrayBuffer()); let s = "";
		for (let i = 0; i < a.length; i += 8192) s += String.fromCharCode.apply(null, a.subarray(i, i + 8192)); return btoa(s); })`)
	out, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// pickup fills in an appointment a week from now.
func (b *browser) pickup() {
	b.t.Helper()
	day := time.Now().AddDate(0, 0, 7).Format("2006-01-02")
	b.do(chromedp.SetValue(chromedp.CSS("#pickup_date"), day), chromedp.SetValue(chromedp.CSS("#pickup_from"), "10:00"),
		chromedp.SetValue(chromedp.CSS("#pickup_to"), "10:30"))
}

// sign draws a signature on the canvas with pointer events.
func (b *browser) sign() {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("signature-pad").scrollIntoView({block: "center"})`))
	box := eval[[]float64](b, `(() => { const r = document.getElementById("signature-pad").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x, y, w, h := box[0], box[1], box[2], box[3]
	press := func(typ input.DispatchMouseEventType, px, py float64, buttons int64) chromedp.Action[chromedp.Void] {
		return chromedp.MouseEvent(typ, px, py, func(p *input.DispatchMouseEventParams) {
			p.Button, p.Buttons, p.ClickCount = input.MouseButtonLeft, buttons, 1
		})
	}
	steps := []chromedp.Action[chromedp.Void]{press(input.DispatchMouseEventTypeMousePressed, x+w*0.1, y+h*0.6, 1)}
	for i := 1; i <= 30; i++ {
		f := float64(i) / 30
		steps = append(steps, press(input.DispatchMouseEventTypeMouseMoved, x+w*(0.1+0.8*f), y+h*(0.6-0.3*f*(1-f)*4), 1))
	}
	steps = append(steps, press(input.DispatchMouseEventTypeMouseReleased, x+w*0.9, y+h*0.6, 0))
	b.do(steps...)
}

func TestTabletInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t) // the tablet reaches the counter over HTTPS
	b := newBrowser(t, e)
	ctx := context.Background()
	// A chain of two stores: every counter page names the store it works
	// in, and must still fit the tablet and the phone.
	if _, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Freiburg-Herdern"}); err != nil {
		t.Fatal(err)
	}

	// Sign in, over HTTPS with the store CA's certificate.
	b.open(tabletLandscape, "/login")
	if proto := eval[string](b, `location.protocol`); proto != "https:" {
		t.Fatalf("the tablet flow runs over %s", proto)
	}
	b.check(tabletLandscape, "login", "de")
	b.keyboard("login")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), e.counter.Name), chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("button[type=submit]")
	if loc := b.location(); loc != "/orders/new" {
		t.Fatalf("after sign-in at %s", loc)
	}

	// A new customer and an order.
	for _, vp := range []viewport{tabletPortrait, tabletLandscape, phone} {
		b.open(vp, "/orders/new")
		b.check(vp, "order-new", "de")
	}
	if line := eval[string](b, `(document.querySelector(".store-line") || {}).innerText || ""`); !strings.Contains(line, "Filiale: Hauptgeschäft") {
		t.Errorf("the counter's store line: %q", line)
	}
	// On a phone the item rows keep their labels.
	if lbl := eval[string](b, `getComputedStyle(document.querySelector("td[data-label]"), "::before").content`); !strings.Contains(lbl, "Beschreibung") {
		t.Errorf("item rows on a phone lose their labels: %s", lbl)
	}
	b.open(tabletLandscape, "/orders/new")
	b.keyboard("order form")
	for sel, v := range map[string]string{"#first_name": "Jana", "#last_name": "Weiß", "#street": "Hauptstraße 1", "#postal_code": "79098",
		"#city": "Freiburg", "#email": "j.weiss@example.org", "#mobile": "0170 1234567",
		"input[name=item_description_0]": "Gleitsichtbrille", "input[name=item_quantity_0]": "1", "input[name=item_price_0]": "459,00"} {
		b.do(chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	b.pickup()
	b.submit("#order-form button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/consent/") {
		t.Fatalf("order form went to %s: %s", loc, eval[string](b, `document.body.innerText`))
	}

	// The customer's screen: every switch starts off; one cell switched
	// on, the eye test reminder by e-mail, and nothing else; a signature
	// with the finger.
	for _, vp := range []viewport{tabletPortrait, tabletLandscape} {
		b.do(chromedp.EmulateViewport(vp.w, vp.h))
		b.check(vp, "consent", "de")
	}
	if on := eval[int](b, `document.querySelectorAll("input.switch:checked").length`); on != 0 {
		t.Fatalf("%d switches on before the customer touched one", on)
	}
	b.keyboard("consent screen")
	b.do(chromedp.Click(chromedp.CSS(`label:has(#cell_email_eye_test)`)))
	// The screen says what the signature confirms: that cell, in words.
	if confirms := eval[string](b, `document.getElementById("confirms-list").innerText`); !strings.Contains(confirms, "Sehtest-Erinnerung per E-Mail an j.weiss@example.org") || strings.Contains(confirms, "Angebote") {
		t.Errorf("what the signature confirms: %q", confirms)
	}
	b.sign()
	b.check(tabletLandscape, "consent-signed", "de")
	if !eval[bool](b, `(() => { const c = document.getElementById("signature-pad"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })()`) {
		t.Fatal("the pointer events drew nothing on the canvas")
	}
	b.submit("#consent-submit")
	// The tablet is still in the customer's hands: a locked thank-you
	// screen, no staff menu, and every staff page refused until a PIN.
	if loc := b.location(); loc != "/handback" {
		t.Fatalf("consent went to %s: %s", loc, eval[string](b, `document.body.innerText`))
	}
	b.check(tabletLandscape, "handback", "de")
	// The cell chosen, and nothing else: no cross product.
	var n int
	var granted string
	e.store().QueryRow(`SELECT COUNT(*), MIN(channel || ':' || topic) FROM consent_events WHERE action = 'grant'`).Scan(&n, &granted)
	if n != 1 || granted != "email:eye_test" {
		t.Errorf("%d grants (%s), want the one cell e-mail × eye test", n, granted)
	}
	if txt := eval[string](b, `document.body.innerText`); !strings.Contains(txt, "bitte geben Sie das Tablet jetzt zurück") {
		t.Errorf("hand-back screen: %s", txt)
	}
	if n := eval[int](b, `document.querySelectorAll("header nav a, a[href^='/customers'], a[href^='/orders'], form[action='/logout']").length`); n != 0 {
		t.Errorf("%d staff links on the customer's screen", n)
	}
	for _, p := range []string{"/customers", "/customers/1", "/orders/new", "/orders/1", "/dashboard", "/mailbox"} {
		b.open(tabletLandscape, p)
		if loc := b.location(); loc != "/handback" {
			t.Errorf("the customer reached %s from the locked screen: %s", p, loc)
		}
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#pin"), "1234"))
	b.submit("form[action='/handback'] button[type=submit]")
	if loc := b.location(); loc != "/handback" || !eval[bool](b, `!!document.querySelector(".field-error")`) {
		t.Errorf("a wrong PIN unlocked the tablet: %s", loc)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("form[action='/handback'] button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/1") {
		t.Fatalf("unlock went to %s: %s", loc, eval[string](b, `document.body.innerText`))
	}
	b.check(tabletLandscape, "order-done", "de")
	cells, err := e.db.ConsentTopics(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, events, _ := e.db.Consents(ctx, 1)
	if cells[consent.Email][consent.TopicEyeTest].State != consent.Pending || cells[consent.Email][consent.TopicOffers].State != consent.None ||
		cells[consent.Post][consent.TopicOffers].State != consent.None || !cells[consent.Post][consent.TopicOffers].Declined {
		t.Fatalf("ledger after the tablet: %+v, %d events", cells, len(events))
	}
	if events[0].Source != consent.CounterTablet || events[0].EvidenceSHA256 == "" {
		t.Errorf("event %+v: want the counter tablet and the signature's hash", events[0])
	}

	// The print view: the button opens the confirmation PDF.
	newTab := chromedp.WaitNewTarget(b.ctx, func(i *target.Info) bool { return strings.HasSuffix(i.URL, "/confirmation.pdf") })
	b.do(chromedp.Click(chromedp.CSS(`a[href$="confirmation.pdf"]`)))
	select {
	case <-newTab:
	case <-time.After(stepTimeout):
		t.Fatalf("the print button opened no tab with the PDF within %s", stepTimeout)
	}
	pdfInfo := eval[[]any](b, `fetch("/orders/1/confirmation.pdf").then(async r => [r.status, r.headers.get("content-type"), new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5))])`)
	if pdfInfo[0] != float64(200) || pdfInfo[1] != "application/pdf" || pdfInfo[2] != "%PDF-" {
		t.Errorf("confirmation PDF: %v", pdfInfo)
	}
	// What she signs says what she chose: the eye test by e-mail; no
	// sentence of consent names offers, which she left off.
	text := pdfText(t, b.fetch("/orders/1/confirmation.pdf"))
	_, chosen, _ := strings.Cut(text, "Hier steht, was Sie am Tablet gewählt haben.")
	chosen, _, _ = strings.Cut(chosen, "Nicht erteilt:")
	if !strings.Contains(chosen, "„Sehtest-Erinnerung“ per E-Mail an j.weiss@example.org erhalten") || strings.Contains(chosen, "Angebote") {
		t.Errorf("the consent sentences of the confirmation: %s", chosen)
	}

	// Paper mode: boxes printed empty, ticks recorded afterwards with the scan.
	b.open(tabletLandscape, "/orders/new")
	for sel, v := range map[string]string{"#last_name": "Papier", "#email": "papier@example.org", "#street": "Am Rain 12a", "#postal_code": "79100", "#city": "Freiburg",
		"input[name=item_description_0]": "Kontaktlinsen", "input[name=item_quantity_0]": "2", "input[name=item_price_0]": "39,90"} {
		b.do(chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	b.pickup()
	b.do(chromedp.SetValue(chromedp.CSS("#customer_lang"), "en")) // this customer reads English
	b.do(chromedp.Click(chromedp.CSS(`input[name=consent_mode][value=paper]`)))
	b.submit("#order-form button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/2") {
		t.Fatalf("paper order went to %s", loc)
	}
	b.check(tabletLandscape, "paper-order", "de")
	scan := filepath.Join(t.TempDir(), "bogen.png")
	png, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(signature(t), "data:image/png;base64,"))
	os.WriteFile(scan, png, 0o600)
	// The sheet says: the eye test reminder by letter. The transfer form
	// has the same cells, and stores that one.
	b.do(chromedp.Click(chromedp.CSS(`label:has(#paper_post_eye_test)`)), chromedp.SetUploadFiles(chromedp.CSS("#scan"), []string{scan}))
	b.submit(`form[action="/orders/2/paper"] button[type=submit]`)
	b.check(tabletLandscape, "paper-recorded", "de")
	paper, _ := e.db.ConsentTopics(ctx, 2)
	if paper[consent.Post][consent.TopicEyeTest].State != consent.Granted || paper[consent.Post][consent.TopicOffers].State != consent.None ||
		!paper[consent.Post][consent.TopicOffers].Declined {
		t.Fatalf("paper ticks: post %+v", paper[consent.Post])
	}
	if !eval[bool](b, `document.getElementById("paper_post_eye_test").checked && !document.getElementById("paper_post_offers").checked`) {
		t.Error("after saving, the transfer form does not show the ticks as saved")
	}

	// The same pages in English, chosen for this session.
	b.open(tabletLandscape, "/orders/new")
	b.submit(`form[action="/lang"] button[value=en]`)
	b.open(tabletLandscape, "/orders/new")
	b.check(tabletLandscape, "order-new-en", "en")
	b.open(tabletLandscape, "/orders/1")
	b.check(tabletLandscape, "order-en", "en")

	// The customer's phone: the preference page from the printed QR code;
	// withdraw everything with one button.
	token := consent.NewTokens(e.db.Keys.Tokens).Make(consent.PreferencesToken, 1)
	b.open(phone, "/p/"+token+"?src=qr")
	b.check(phone, "preferences", "de")
	b.keyboard("preference page")
	// The table, channel by topic: one cell off (the eye test by
	// e-mail), one on (events by e-mail), saved.
	if on := eval[int](b, `document.querySelectorAll("input[name=cell]:checked").length`); on != 1 {
		t.Errorf("%d cells on, want e-mail × eye test", on)
	}
	b.do(chromedp.Click(chromedp.CSS(`label:has(#cell_email_eye_test)`)), chromedp.Click(chromedp.CSS(`label:has(#cell_email_events)`)))
	b.submit(`button[value=save]`)
	b.check(phone, "preferences-cells", "de")
	cells, _ = e.db.ConsentTopics(ctx, 1)
	if cells[consent.Email][consent.TopicEyeTest].State != consent.Withdrawn || cells[consent.Email][consent.TopicEvents].State != consent.Pending {
		t.Errorf("after the phone's cells: e-mail %+v", cells[consent.Email])
	}
	b.submit(`button[value=withdraw_all]`)
	b.check(phone, "preferences-withdrawn", "de")
	st, ev, _ := e.db.Consents(ctx, 1)
	for _, ch := range consent.Channels {
		if st[ch].State == consent.Granted || st[ch].State == consent.Pending {
			t.Errorf("%s still %s after withdrawing everything", ch, st[ch].State)
		}
	}
	if last := ev[len(ev)-1]; last.Source != consent.QRCode || last.Actor != consent.ByCustomer {
		t.Errorf("withdrawal recorded as %+v", last)
	}
	// An English-speaking customer gets the page in English, whatever
	// language the tablet uses.
	b.open(phone, "/p/"+consent.NewTokens(e.db.Keys.Tokens).Make(consent.PreferencesToken, 2))
	b.check(phone, "preferences-en", "en")
	b.offline()
}

// TestBrowserChecksFindProblems shows that the checks above can fail: a
// page with a small button, an image without text, poor contrast, tiny
// type, a wide element and mixed languages is caught on every count.
func TestBrowserChecksFindProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e)
	bad := `<!DOCTYPE html><html lang="de"><head><title>x</title></head><body>
		<button style="width:20px;height:20px">x</button><img src="/static/none.png">
		<p style="color:#bbb;background:#fff">Kaum lesbar</p><p style="font-size:9px">winzig</p>
		<div style="width:3000px">breit</div><p>` + assets.T("en", "consent.voluntary") + `</p></body></html>`
	b.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate("data:text/html;charset=utf-8,"+url.PathEscape(bad)))
	found := strings.Join(b.problems("de"), "\n")
	for _, want := range []string{"wider than the screen", "touch target under 44 px", "text under 14 px", "no viewport meta",
		"axe image-alt", "axe color-contrast", "shows en text"} {
		if !strings.Contains(found, want) {
			t.Errorf("the checks missed %q; found:\n%s", want, found)
		}
	}
}

// TestBackOfficeInTheBrowser holds the back office to the same checks as
// the counter: the customer page with its timeline and forms, the
// dashboard with its chart, the exports, staff and the access log, at
// the back office PC's size and on a tablet.
func TestBackOfficeInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	start := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	p, err := e.db.PlaceOrder(ctx, orders.NewOrder{StaffID: e.counter.ID,
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg",
			Email: "j.weiss@example.org", Mobile: "0170 1234567"},
		Items:  []orders.Item{{Description: "Gleitsichtbrille", Quantity: 1, UnitPriceCents: 45900, VATRatePercent: 19}},
		Pickup: &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Post: true, consent.Email: true},
			SignaturePNG: mustDecodeDataURL(t, signature(t))}})
	if err != nil {
		t.Fatal(err)
	}
	// A chain of two stores: the header shows the store and a chain-wide
	// manager's switch.
	if _, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Freiburg-Wiehre", Street: "Günterstalstraße 12", PostalCode: "79100", City: "Freiburg",
		Phone: "0761 7654321", OpeningHours: "Mo–Fr 9–18 Uhr\nSa 9–13 Uhr"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	desktop := viewport{"desktop", 1280, 800}
	b.open(desktop, "/login")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), e.manager.Name), chromedp.SendKeys(chromedp.CSS("#pin"), "864297"))
	b.submit("button[type=submit]")
	cid := itoa(p.Customer.ID)
	for _, page := range []struct{ name, path string }{
		{"customer", "/customers/" + cid}, {"dashboard", "/dashboard"}, {"customers", "/customers?q=wei%C3%9F"},
		{"contactable", "/contactable"}, {"staff", "/staff"}, {"audit", "/audit"}, {"stores", "/stores"},
	} {
		for _, vp := range []viewport{desktop, tabletPortrait} {
			b.open(vp, page.path)
			b.check(vp, page.name, "de")
		}
		b.keyboard(page.name)
	}
	// The manager's menu fits one line on a tablet held landscape.
	b.open(tabletLandscape, "/dashboard")
	b.check(tabletLandscape, "menu", "de")
	if lines := eval[int](b, `new Set([...document.querySelectorAll("header.bar nav > a, header.bar nav summary, header.bar .bar-right > *")].filter(a => a.getClientRects().length > 0).map(a => { const r = a.getBoundingClientRect(); return Math.round((r.top + r.bottom) / 20); })).size`); lines != 1 {
		t.Errorf("the manager menu takes %d lines at 1024 px: %s", lines, eval[string](b, `JSON.stringify([...document.querySelectorAll("header.bar nav > a, header.bar nav summary, header.bar .bar-right > *")].filter(a => a.getClientRects().length > 0).map(a => [a.tagName, a.textContent.trim().slice(0,12), Math.round(a.getBoundingClientRect().top), Math.round(a.getBoundingClientRect().height)]))`))
	}
	// The chart is drawn: one line per channel.
	b.open(desktop, "/dashboard")
	if n := eval[int](b, `document.querySelectorAll("svg.chart polyline").length`); n != 4 {
		t.Errorf("chart lines: %d", n)
	}
	// Correct an address in the browser; the change log shows it.
	b.open(desktop, "/customers/"+cid)
	b.do(chromedp.SetValue(chromedp.CSS("#c_city"), "Freiburg im Breisgau"))
	b.submit(`form[action="/customers/` + cid + `"] button[type=submit]`)
	b.check(desktop, "customer-changed", "de")
	if !strings.Contains(eval[string](b, `document.body.innerText`), "Freiburg im Breisgau") {
		t.Error("change not shown")
	}
	if ch, _ := e.db.Changes(ctx, p.Customer.ID); len(ch) != 1 || ch[0].NewValue != "Freiburg im Breisgau" {
		t.Errorf("change log: %+v", ch)
	}
	b.offline()
}

func mustDecodeDataURL(t *testing.T, v string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The customer's language all the way, the prescription question and the
// way back, in the browser: a German-speaking counter, an English customer.
func TestEnglishCustomerInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t) // the tablet reaches the counter over HTTPS
	b := newBrowser(t, e)
	b.open(tabletLandscape, "/login")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), e.counter.Name), chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("button[type=submit]")
	fill := func() {
		b.open(tabletLandscape, "/orders/new")
		for sel, v := range map[string]string{"#last_name": "Miller", "#email": "miller@example.org",
			"input[name=item_description_0]": "Varifocal lenses", "input[name=item_price_0]": "459,00"} {
			b.do(chromedp.SendKeys(chromedp.CSS(sel), v))
		}
		// The prescription sits in a folded section: set, not typed.
		b.do(chromedp.SetValue(chromedp.CSS("input[name=rx_right_sph]"), "-1,25"), chromedp.SetValue(chromedp.CSS("input[name=rx_left_sph]"), "-1,00"))
		b.pickup()
		b.do(chromedp.SetValue(chromedp.CSS("#customer_lang"), "en"))
		b.submit("#order-form button[type=submit]")
	}
	fill()
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/consent/") {
		t.Fatalf("order form went to %s", loc)
	}
	b.check(tabletLandscape, "consent-en", "en")
	txt := eval[string](b, `document.body.innerText`)
	for _, want := range []string{"Your order", "Varifocal lenses", "€459.00", "Back – correct my details"} {
		if !strings.Contains(txt, want) {
			t.Errorf("English consent screen lacks %q", want)
		}
	}
	if !strings.Contains(eval[string](b, `document.querySelector("details.notice summary").innerText`), "en-1") {
		t.Error("the English consent screen does not link the English notice")
	}
	// Back to correct: locked, in English, until the PIN.
	b.submit("form.back button[type=submit]")
	if loc := b.location(); loc != "/handback" {
		t.Fatalf("back went to %s", loc)
	}
	b.check(tabletLandscape, "handback-en", "en")
	b.do(chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("form[action='/handback'] button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/new") || eval[string](b, `document.querySelector("#email").value`) != "miller@example.org" {
		t.Fatalf("after back: %s", loc)
	}
	if eval[string](b, `document.documentElement.lang`) != "de" {
		t.Error("the customer's language changed the staff's")
	}
	b.submit("#order-form button[type=submit]")

	// Finishing with the prescription switch off asks once.
	b.sign()
	b.submit("#consent-submit")
	if !eval[bool](b, `!!document.getElementById("rx-question")`) {
		t.Fatalf("no question before dropping the prescription: %s", eval[string](b, `document.body.innerText`))
	}
	b.check(tabletLandscape, "rx-question-en", "en")
	if !eval[bool](b, `(() => { const c = document.getElementById("signature-pad"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })()`) {
		t.Error("the question lost the signature")
	}
	b.submit(`#rx-question button:not([name])`)
	if loc := b.location(); loc != "/handback" {
		t.Fatalf("finish went to %s", loc)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("form[action='/handback'] button[type=submit]")
	if !eval[bool](b, `!!document.querySelector(".flash.warning")`) {
		t.Error("staff see no warning about the dropped prescription")
	}
	b.check(tabletLandscape, "order-rx-dropped", "de")
	// The printout is English.
	doc := eval[string](b, `fetch("/orders/1/confirmation.pdf").then(r => r.arrayBuffer()).then(a => { let s = ""; new Uint8Array(a).forEach(x => s += String.fromCharCode(x)); return btoa(s); })`)
	raw, err := base64.StdEncoding.DecodeString(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdfText(t, raw)), " ")
	for _, want := range []string{"Order confirmation", "Consent to advertising", "Your right to object", "Privacy notice", "Version en-1"} {
		if !strings.Contains(text, want) {
			t.Errorf("English PDF lacks %q", want)
		}
	}
	if strings.Contains(text, "Auftragsbestätigung") {
		t.Error("the English customer's PDF is German")
	}
}

// order.js reads amounts by the server's rule (pos/forms.go parseEuros):
// the running total agrees with what will be stored.
func TestOrderFormTotalsAsGermansWrite(t *testing.T) {
	t.Parallel()
	e := newTLSEnv(t) // the tablet reaches the counter over HTTPS
	b := newBrowser(t, e)
	b.open(tabletLandscape, "/login")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), e.counter.Name), chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("button[type=submit]")
	b.open(tabletLandscape, "/orders/new")
	for in, want := range map[string]string{"1.000": "1.000,00 €", "1.000,50": "1.000,50 €", "1000,50": "1.000,50 €", "1000.50": "1.000,50 €",
		"12,9": "12,90 €", "1,234.50": "0,00 €", "1,234": "0,00 €", "1.2345": "0,00 €"} {
		got := eval[string](b, `(() => { const p = document.querySelector('[name="item_price_0"]'); p.value = `+strconv.Quote(in)+`;
			p.dispatchEvent(new Event("input", {bubbles: true})); return document.getElementById("total").textContent.replace(/\u00a0/g, " "); })()`)
		if got != want {
			t.Errorf("%q: total %q, want %q", in, got, want)
		}
	}
}

// A returning customer sees what stands: the consents she gave before are
// listed apart, as such, each withdrawn with one tap; the new choices all
// start off; and the new confirmation lists what stands after this order
// (never "no consent" while a recall may go out on an older one).
func TestReturningCustomerInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	first, err := e.db.PlaceOrder(ctx, orders.NewOrder{StaffID: e.counter.ID,
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Anna", LastName: "Weber", Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg",
			Email: "a.weber@example.de", Mobile: "0170 1234567"},
		Items:  []orders.Item{{Description: "Gleitsichtbrille", Quantity: 1, UnitPriceCents: 45900, VATRatePercent: 19}},
		Pickup: &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, SignaturePNG: mustDecodeDataURL(t, signature(t)),
			Cells: map[consent.Channel][]string{consent.Email: {consent.TopicEyeTest}, consent.Post: {consent.TopicOffers}}}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	b.open(tabletLandscape, "/login")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), e.counter.Name), chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("button[type=submit]")
	b.open(tabletLandscape, "/orders/new")
	b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("customer_id").value = "`+itoa(first.Customer.ID)+`"`),
		chromedp.SendKeys(chromedp.CSS("input[name=item_description_0]"), "Kontaktlinsen"), chromedp.SendKeys(chromedp.CSS("input[name=item_price_0]"), "39,90"))
	b.pickup()
	b.submit("#order-form button[type=submit]")
	if loc := b.location(); !strings.HasPrefix(loc, "/orders/consent/") {
		t.Fatalf("order form went to %s: %s", loc, eval[string](b, `document.body.innerText`))
	}
	b.check(tabletLandscape, "consent-returning", "de")
	standing := eval[string](b, `document.querySelector(".standing").innerText`)
	for _, want := range []string{"Sehtest-Erinnerung per E-Mail an a.weber@example.de", "Angebote und Neuheiten per Brief an Hauptstraße 1, 79098 Freiburg"} {
		if !strings.Contains(standing, want) {
			t.Errorf("the standing consents lack %q: %s", want, standing)
		}
	}
	if on := eval[int](b, `document.querySelectorAll("input[name=cell]:checked").length`); on != 0 {
		t.Errorf("%d new switches start on", on)
	}
	if eval[bool](b, `!!document.getElementById("cell_email_eye_test")`) {
		t.Error("a standing cell is offered again as a new switch")
	}
	// One tap withdraws the letters about offers, at once.
	b.submit(`button[name=withdraw][value="post:offers"]`)
	cells, _ := e.db.ConsentTopics(ctx, first.Customer.ID)
	if cells[consent.Post][consent.TopicOffers].State != consent.Withdrawn || cells[consent.Email][consent.TopicEyeTest].State != consent.Granted {
		t.Fatalf("after the tap: post %+v, e-mail %+v", cells[consent.Post][consent.TopicOffers], cells[consent.Email][consent.TopicEyeTest])
	}
	if txt := eval[string](b, `document.body.innerText`); !strings.Contains(txt, "Sofort widerrufen: Angebote und Neuheiten per Brief") {
		t.Errorf("the screen does not say what was withdrawn: %s", txt)
	}
	b.check(tabletLandscape, "consent-withdrawn-cell", "de")
	b.sign()
	b.submit("#consent-submit")
	if loc := b.location(); loc != "/handback" {
		t.Fatalf("consent went to %s: %s", loc, eval[string](b, `document.body.innerText`))
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#pin"), "4711"))
	b.submit("form[action='/handback'] button[type=submit]")
	text := strings.Join(strings.Fields(pdfText(t, b.fetch("/orders/2/confirmation.pdf"))), " ")
	if !strings.Contains(text, "Früher erteilt und weiterhin gültig: • Sehtest-Erinnerung per E-Mail an a.weber@example.de") {
		t.Errorf("the new confirmation does not list the consent that stands:\n%s", text)
	}
	if strings.Contains(text, "Angebote und Neuheiten per Brief an Hauptstraße 1, 79098 Freiburg (seit") {
		t.Error("the new confirmation lists the consent withdrawn on its screen as standing")
	}
}

// A wide logo (600 × 200) fits a phone of 390 px on the customers'
// pages: the preference page and the double opt-in page are no wider
// than the screen, and the logo is scaled, not cut.
func TestWideLogoFitsThePhone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	img := image.NewNRGBA(image.Rect(0, 0, 600, 200))
	for x := 0; x < 600; x++ {
		for y := 0; y < 200; y++ {
			img.Set(x, y, color.NRGBA{R: 10, G: 90, B: 156, A: 255})
		}
	}
	var logo bytes.Buffer
	if err := png.Encode(&logo, img); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveLogo(ctx, logo.Bytes()); err != nil {
		t.Fatal(err)
	}
	p, err := e.db.PlaceOrder(ctx, orders.NewOrder{StaffID: e.counter.ID,
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Anna", LastName: "Weber", Email: "a.weber@example.de"},
		Items:    []orders.Item{{Description: "Putztuch", Quantity: 1, UnitPriceCents: 500, VATRatePercent: 19}},
		Pickup:   &orders.Pickup{Start: time.Now().Add(48 * time.Hour).Truncate(time.Hour), End: time.Now().Add(49 * time.Hour).Truncate(time.Hour)},
		Consent:  orders.ConsentInput{Mode: orders.ModeTablet, Cells: map[consent.Channel][]string{consent.Email: {consent.TopicOffers}}}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := consent.NewTokens(e.db.Keys.Tokens)
	b := newBrowser(t, e)
	for name, path := range map[string]string{
		"preferences-wide-logo": "/p/" + tokens.Make(consent.PreferencesToken, p.Customer.ID),
		"confirm-wide-logo":     "/c/" + tokens.MakeFor(consent.ConfirmAddressToken, p.Customer.ID, "a.weber@example.de"),
	} {
		b.open(phone, path)
		b.check(phone, name, "de") // fails where the page is wider than the screen
		if w := eval[int](b, `Math.round(document.querySelector("img.brand-logo, img.store-logo").getBoundingClientRect().width)`); w == 0 || w > 390 {
			t.Errorf("%s: the logo is %d px wide on a 390 px screen", name, w)
		}
	}
}
