package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"
)

// helperEnv, when set to a directory, makes the test binary a Docker
// credential helper that keeps its store in that directory, for tests of
// credsStore. The tests run it as docker-credential-berthtest.
const helperEnv = "BERTH_TEST_CREDENTIAL_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		credentials.Serve(fileHelper(dir))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fileHelper is a credential helper that stores credentials in a JSON
// file, store.json, in its directory.
type fileHelper string

type storedCredentials struct{ Username, Secret string }

func (h fileHelper) load() (map[string]storedCredentials, error) {
	m := map[string]storedCredentials{}
	data, err := os.ReadFile(filepath.Join(string(h), "store.json"))
	if os.IsNotExist(err) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(data, &m)
}

func (h fileHelper) save(m map[string]storedCredentials) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(string(h), "store.json"), data, 0o600)
}

func (h fileHelper) Add(c *credentials.Credentials) error {
	m, err := h.load()
	if err != nil {
		return err
	}
	m[c.ServerURL] = storedCredentials{c.Username, c.Secret}
	return h.save(m)
}

func (h fileHelper) Delete(serverURL string) error {
	m, err := h.load()
	if err != nil {
		return err
	}
	if _, ok := m[serverURL]; !ok {
		return credentials.NewErrCredentialsNotFound()
	}
	delete(m, serverURL)
	return h.save(m)
}

func (h fileHelper) Get(serverURL string) (string, string, error) {
	m, err := h.load()
	if err != nil {
		return "", "", err
	}
	c, ok := m[serverURL]
	if !ok {
		return "", "", credentials.NewErrCredentialsNotFound()
	}
	return c.Username, c.Secret, nil
}

func (h fileHelper) List() (map[string]string, error) {
	m, err := h.load()
	if err != nil {
		return nil, err
	}
	list := map[string]string{}
	for url, c := range m {
		list[url] = c.Username
	}
	return list, nil
}
