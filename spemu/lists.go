package spemu

import (
	"net/http"
	"strings"
)

// serveLists answers GET <Site>/_api/web/lists: the site's lists, as
// SharePoint gives them with $expand=RootFolder ([doc] SP.List; the
// template numbers are SP.ListTemplateType). spemu's site has its one
// document library (template 101) and, as every team site does, the
// hidden or non-library lists a client must skip: "Site Pages" (119)
// and the hidden "Form Templates" library (101, Hidden). Query options
// ($select, $filter) are not applied: the client filters.
func (s *Server) serveLists(w http.ResponseWriter, r *http.Request) {
	site := strings.TrimRight(s.cfg.Site, "/")
	list := func(title string, template int, hidden bool, folder string) map[string]any {
		m := map[string]any{"Title": title, "BaseTemplate": template, "Hidden": hidden,
			"RootFolder": map[string]any{"ServerRelativeUrl": site + "/" + folder}}
		if verbose(r) {
			m["__metadata"] = map[string]any{"type": "SP.List"}
			m["RootFolder"].(map[string]any)["__metadata"] = map[string]any{"type": "SP.Folder"}
		}
		return m
	}
	lists := []map[string]any{
		list(s.cfg.Library, 101, false, s.cfg.Library),
		list("Site Pages", 119, false, "SitePages"),
		list("Form Templates", 101, true, "FormServerTemplates"),
	}
	if verbose(r) {
		writeJSON(w, r, http.StatusOK, map[string]any{"d": map[string]any{"results": lists}})
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"value": lists})
}
