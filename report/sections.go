package report

import htmltemplate "html/template"

// section is a block of the report computed elsewhere (statistical
// verdicts, the split card) that renders itself in both formats.
type section interface {
	Markdown() string
	HTML() htmltemplate.HTML
}

// optionalSections gives the templates' {{with .Verdicts}} and
// {{with .SplitCard}} hooks a nil field to test while Data has no such
// fields of its own; fields of those names declared on Data shadow these.
type optionalSections struct {
	Verdicts  section
	SplitCard section
}
