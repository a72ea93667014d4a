package main

import (
	"errors"

	"github.com/outhook/outhook/trigger"
)

// TYPO3's core webhook messages, with the identifiers and bodies TYPO3
// sends (EXT:webhooks, EXT:redirects), as the demo's message types. Each
// offers an example, which the event catalog shows and "send test" sends.

// Author is the backend user who made a change.
type Author struct {
	UID      int    `json:"uid"`
	Username string `json:"username"`
	IsAdmin  bool   `json:"isAdmin"`
}

// PageModification: a page was added, changed or deleted.
type PageModification struct {
	Action        string         `json:"action"`
	Identifier    int            `json:"identifier"`
	Record        map[string]any `json:"record"`
	URL           string         `json:"url"`
	Site          string         `json:"site"`
	Workspace     int            `json:"workspace"`
	Author        *Author        `json:"author,omitempty"`
	ChangedFields map[string]any `json:"changedFields,omitempty"`
}

// JSONSerialize returns the body.
func (m PageModification) JSONSerialize() any { return m }

// WebhookExample is a page edited by an editor.
func (PageModification) WebhookExample() trigger.Message {
	return PageModification{Action: "modified", Identifier: 42, Record: map[string]any{"uid": 42, "pid": 1, "title": "About us"},
		URL: "https://www.example.com/about-us", Site: "main", Author: &Author{UID: 3, Username: "editor"},
		ChangedFields: map[string]any{"title": "About us"}}
}

// File is a file in a storage, as TYPO3's file messages describe it.
type File struct {
	Storage    int    `json:"storage"`
	Identifier string `json:"identifier"`
	URL        string `json:"url"`
}

// FileAdded: a file was added.
type FileAdded struct{ File }

// JSONSerialize returns the body.
func (m FileAdded) JSONSerialize() any { return m.File }

// WebhookExample is an uploaded PDF.
func (FileAdded) WebhookExample() trigger.Message {
	return FileAdded{File{Storage: 1, Identifier: "/user_upload/report.pdf", URL: "https://www.example.com/fileadmin/user_upload/report.pdf"}}
}

// FileUpdated: a file's properties changed.
type FileUpdated struct {
	File
	Properties map[string]any `json:"properties"`
}

// JSONSerialize returns the body.
func (m FileUpdated) JSONSerialize() any { return m }

// WebhookExample is a renamed title.
func (FileUpdated) WebhookExample() trigger.Message {
	return FileUpdated{File: FileAdded{}.WebhookExample().(FileAdded).File, Properties: map[string]any{"title": "Annual report"}}
}

// FileRemoved: a file was deleted.
type FileRemoved struct{ File }

// JSONSerialize returns the body.
func (m FileRemoved) JSONSerialize() any { return m.File }

// WebhookExample is a deleted PDF.
func (FileRemoved) WebhookExample() trigger.Message {
	return FileRemoved{FileAdded{}.WebhookExample().(FileAdded).File}
}

// LoginError: a backend or frontend login failed.
type LoginError struct {
	Context   string            `json:"context"`
	URL       string            `json:"url"`
	LoginData map[string]string `json:"loginData"`
}

// JSONSerialize returns the body.
func (m LoginError) JSONSerialize() any { return m }

// WebhookExample is a failed backend login.
func (LoginError) WebhookExample() trigger.Message {
	return LoginError{Context: "backend", URL: "https://www.example.com/typo3/login",
		LoginData: map[string]string{"status": "login", "uname": "admin", "uident": "********"}}
}

// RedirectWasHit: a redirect record answered a request.
type RedirectWasHit struct {
	SourceURL  string         `json:"sourceUrl"`
	TargetURL  string         `json:"targetUrl"`
	StatusCode int            `json:"statusCode"`
	Redirect   map[string]any `json:"redirect"`
}

// JSONSerialize returns the body.
func (m RedirectWasHit) JSONSerialize() any { return m }

// WebhookExample is an old URL sent on.
func (RedirectWasHit) WebhookExample() trigger.Message {
	return RedirectWasHit{SourceURL: "https://www.example.com/old-page", TargetURL: "https://www.example.com/new-page",
		StatusCode: 301, Redirect: map[string]any{"uid": 7, "source_path": "/old-page", "target": "t3://page?uid=12"}}
}

// typo3Triggers registers the messages under TYPO3's identifiers.
func typo3Triggers() (*trigger.Registry, error) {
	reg := trigger.NewRegistry()
	return reg, errors.Join(
		trigger.Register[PageModification](reg, "typo3/content/page-modification", "A page was added, changed or deleted"),
		trigger.Register[FileAdded](reg, "typo3/file-added", "A file was added"),
		trigger.Register[FileUpdated](reg, "typo3/file-updated", "A file's properties were updated"),
		trigger.Register[FileRemoved](reg, "typo3/file-removed", "A file was removed"),
		trigger.Register[LoginError](reg, "typo3/login-error", "A backend or frontend login failed"),
		trigger.Register[RedirectWasHit](reg, "typo3/redirect-was-hit", "A redirect was hit"),
	)
}
