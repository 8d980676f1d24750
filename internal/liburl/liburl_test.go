package liburl

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	const team = "https://contoso.sharepoint.com/sites/team/Shared%20Documents"
	const me = "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents"
	cases := []struct {
		in, want string
		kind     Kind
		changed  bool
	}{
		// As given: a library, a folder in it, any WebDAV server.
		{team, team, Library, false},
		{team + "/", team, Library, false},
		{team + "/Reports/2025", team + "/Reports/2025", Library, false},
		{"https://dav.example.org/remote.php/dav/files/bob", "https://dav.example.org/remote.php/dav/files/bob", Library, false},
		{"http://127.0.0.1:8080/personal/alice_contoso_com/Documents", "http://127.0.0.1:8080/personal/alice_contoso_com/Documents", Library, false},
		// A library's views.
		{team + "/Forms/AllItems.aspx", team, Library, true},
		{team + "/Forms/AllItems.aspx?id=%2Fsites%2Fteam%2FShared%20Documents%2FReports&viewid=1b2c", team, Library, true},
		{me + "/Forms/All.aspx", me, Library, true},
		{"https://contoso.sharepoint.com/sites/team/Projets%20%C3%A9t%C3%A9/Forms/AllItems.aspx", "https://contoso.sharepoint.com/sites/team/Projets%20%C3%A9t%C3%A9", Library, true},
		// The web app with the folder in id= (decoded or escaped).
		{"https://contoso-my.sharepoint.com/personal/alice_contoso_com/_layouts/15/onedrive.aspx?id=%2Fpersonal%2Falice_contoso_com%2FDocuments%2FWork%2F100%25&view=0", me, Library, true},
		{"https://contoso-my.sharepoint.com/personal/alice_contoso_com/_layouts/15/onedrive.aspx?id=/personal/alice_contoso_com/Documents", me, Library, true},
		{"https://contoso-my.sharepoint.com/personal/alice_contoso_com/_layouts/15/onedrive.aspx", me, Library, true},
		{"https://contoso.sharepoint.com/sites/team/sub/_layouts/15/onedrive.aspx?id=%2Fsites%2Fteam%2Fsub%2FArchive%2FOld", "https://contoso.sharepoint.com/sites/team/sub/Archive", Library, true},
		{"https://contoso.sharepoint.com/sites/team/_layouts/15/start.aspx#/Shared%20Documents", "https://contoso.sharepoint.com/sites/team", Site, true},
		// Sharing-style links with the path in them.
		{"https://contoso.sharepoint.com/:f:/r/sites/team/Shared%20Documents/Reports?csf=1&web=1&e=AbCdEf", team, Library, true},
		{"https://contoso.sharepoint.com/:x:/r/sites/team/Shared%20Documents/Budget.xlsx?d=w1234&csf=1", team, Library, true},
		{"https://contoso-my.sharepoint.com/:f:/r/personal/alice_contoso_com/Documents/Work", me, Library, true},
		{"https://contoso.sharepoint.com/:f:/r/Shared%20Documents/x", "https://contoso.sharepoint.com/Shared%20Documents", Library, true},
		// Sites.
		{"https://contoso.sharepoint.com/sites/team", "https://contoso.sharepoint.com/sites/team", Site, false},
		{"https://contoso.sharepoint.com/sites/team/SitePages/Home.aspx", "https://contoso.sharepoint.com/sites/team", Site, true},
		{"https://contoso.sharepoint.com/", "https://contoso.sharepoint.com", Site, false},
		{"https://contoso.sharepoint.com/sites/team/_layouts/15/viewlsts.aspx?view=14", "https://contoso.sharepoint.com/sites/team", Site, true},
	}
	for _, c := range cases {
		r, err := Normalize(c.in)
		if err != nil || r.URL != c.want || r.Kind != c.kind || r.Changed != c.changed {
			t.Errorf("Normalize(%s)\n = %+v, %v\nwant %s kind %d changed %v", c.in, r, err, c.want, c.kind, c.changed)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://contoso.sharepoint.com/sites/team/Lists/Tasks/AllItems.aspx", "Lists/Tasks is a list"},
		{"https://contoso.sharepoint.com/:f:/s/team/EtAbCdEfGh?e=xyz", "hides the library behind a token"},
		{"https://contoso.sharepoint.com/:f:/g/personal/bob/EtAbC", "hides the library behind a token"},
		{"https://contoso.sharepoint.com/sites/team/_layouts/15/settings.aspx", "settings.aspx is a page of the site https://contoso.sharepoint.com/sites/team"},
		{"https://contoso.sharepoint.com/sites/team/_layouts/15/onedrive.aspx?id=%2Fsites%2Fother%2FDocs", "not a path in the site"},
		{"https://contoso.sharepoint.com/sites/team/default.aspx", "default.aspx is a page"},
		{"https://contoso.sharepoint.com/:f:/r/sites/team", "names no library"},
	}
	for _, c := range cases {
		r, err := Normalize(c.in)
		if err == nil || !errors.Is(err, ErrNotLibrary) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Normalize(%s) = %+v, %v; want an error with %q", c.in, r, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "e=xyz") || strings.Contains(err.Error(), "?")) {
			t.Errorf("Normalize(%s): the error repeats the query (sharing tokens): %v", c.in, err)
		}
	}
	for _, in := range []string{"contoso.sharepoint.com/sites/team", "ftp://h/x", "https://u:p@h/x"} {
		if _, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%s) accepted", in)
		}
	}
}
