package useragent_test

import (
	"testing"

	"github.com/portero/portero/internal/useragent"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   useragent.Agent
	}{
		{
			"Chrome on Windows",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "126", OS: "Windows"},
		},
		{
			"Chrome on macOS",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "125", OS: "macOS"},
		},
		{
			"Chrome on Linux",
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "124", OS: "Linux"},
		},
		{
			"Chrome on Android",
			"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "126", OS: "Android"},
		},
		{
			"Chrome on iPhone",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
			useragent.Agent{Browser: "Chrome", Version: "126", OS: "iOS"},
		},
		{
			"Chrome on ChromeOS",
			"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "126", OS: "ChromeOS"},
		},
		{
			"headless Chromium",
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
			useragent.Agent{Browser: "Chrome", Version: "126", OS: "Linux"},
		},
		{
			"Firefox on Windows",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
			useragent.Agent{Browser: "Firefox", Version: "127", OS: "Windows"},
		},
		{
			"Firefox on macOS",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
			useragent.Agent{Browser: "Firefox", Version: "127", OS: "macOS"},
		},
		{
			"Firefox on Linux",
			"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
			useragent.Agent{Browser: "Firefox", Version: "126", OS: "Linux"},
		},
		{
			"Firefox on Android",
			"Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
			useragent.Agent{Browser: "Firefox", Version: "127", OS: "Android"},
		},
		{
			"Firefox on iPhone",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
			useragent.Agent{Browser: "Firefox", Version: "127", OS: "iOS"},
		},
		{
			"Safari on macOS",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
			useragent.Agent{Browser: "Safari", Version: "17", OS: "macOS"},
		},
		{
			"Safari on iPhone",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
			useragent.Agent{Browser: "Safari", Version: "17", OS: "iOS"},
		},
		{
			"Safari on iPad",
			"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
			useragent.Agent{Browser: "Safari", Version: "16", OS: "iPadOS"},
		},
		{
			"Edge on Windows",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
			useragent.Agent{Browser: "Edge", Version: "126", OS: "Windows"},
		},
		{
			"Edge on macOS",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
			useragent.Agent{Browser: "Edge", Version: "126", OS: "macOS"},
		},
		{
			"Edge on Android",
			"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.2592.80",
			useragent.Agent{Browser: "Edge", Version: "126", OS: "Android"},
		},
		{
			"Edge on iPhone",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/126.2592.86 Mobile/15E148 Safari/605.1.15",
			useragent.Agent{Browser: "Edge", Version: "126", OS: "iOS"},
		},
		{
			"legacy Edge",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
			useragent.Agent{Browser: "Edge", Version: "18", OS: "Windows"},
		},
		{
			"Opera on Windows",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0",
			useragent.Agent{Browser: "Opera", Version: "111", OS: "Windows"},
		},
		{
			"Opera on Android",
			"Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 OPR/82.1.4342.78876",
			useragent.Agent{Browser: "Opera", Version: "82", OS: "Android"},
		},
		{
			"Opera 12 on Linux",
			"Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16",
			useragent.Agent{Browser: "Opera", Version: "12", OS: "Linux"},
		},
		{
			"Samsung Internet on Android",
			"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
			useragent.Agent{Browser: "Samsung Internet", Version: "25", OS: "Android"},
		},
		{
			"web view in an iPhone app",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
			useragent.Agent{OS: "iOS"},
		},
		{
			"old Android browser",
			"Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
			useragent.Agent{OS: "Android"},
		},
		{
			"curl",
			"curl/8.5.0",
			useragent.Agent{},
		},
		{
			"Go HTTP client",
			"Go-http-client/1.1",
			useragent.Agent{},
		},
		{
			"empty",
			"",
			useragent.Agent{},
		},
		{
			"version without digits",
			"Mozilla/5.0 (X11; Linux x86_64) Firefox/beta",
			useragent.Agent{Browser: "Firefox", OS: "Linux"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := useragent.Parse(tt.header); got != tt.want {
				t.Errorf("Parse: got %+v, want %+v", got, tt.want)
			}
		})
	}
}
