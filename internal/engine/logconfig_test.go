package engine

import "testing"

func TestParseLogOptions(t *testing.T) {
	for _, tc := range []struct {
		driver string
		opts   map[string]string
		want   *LogConfig
		ok     bool
	}{
		{"", nil, nil, true},
		{"json-file", map[string]string{"max-size": "10m", "max-file": "5"}, &LogConfig{MaxSize: 10 << 20, MaxFiles: 5}, true},
		{"local", map[string]string{"max-size": "1k"}, &LogConfig{MaxSize: 1 << 10}, true},
		{"syslog", nil, nil, false},
		{"json-file", map[string]string{"max-size": "-1"}, nil, false},
		{"json-file", map[string]string{"max-file": "0"}, nil, false},
		{"json-file", map[string]string{"max-file": "101"}, nil, false},
		{"json-file", map[string]string{"compress": "true"}, nil, false},
	} {
		got, err := ParseLogOptions(tc.driver, tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("ParseLogOptions(%q, %v) = %v, want ok %v", tc.driver, tc.opts, err, tc.ok)
			continue
		}
		if tc.ok && (got == nil) != (tc.want == nil) || got != nil && tc.want != nil && *got != *tc.want {
			t.Errorf("ParseLogOptions(%q, %v) = %+v, want %+v", tc.driver, tc.opts, got, tc.want)
		}
	}
}
