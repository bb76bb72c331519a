package importers

import (
	"math"
	"time"
)

// maxCount is the largest seat count the API stores (a 32-bit integer).
const maxCount = math.MaxInt32

// licenseFields are the fields shared by program and user licenses, after
// the kind's own leading fields.
func licenseFields(nameRequired bool) []Field {
	return []Field{
		{Name: "name", Type: String, Required: nameRequired},
		{Name: "count", Type: Integer, Required: nameRequired, Min: 0, Max: maxCount},
		{Name: "started", Type: Datetime, Required: nameRequired},
		{Name: "expired", Type: Datetime},
		{Name: "active", Type: Boolean},
		{Name: "metadata", Type: Object},
		{Name: "enrollment_config", Type: Object},
		{Name: "source", Type: String},
		{Name: "external_id", Type: String, Required: true},
		{Name: "transaction_id", Type: String},
	}
}

// programLicenseSchema is a program license seat pool (seed 000). The API's
// schema requires program_key, name, count and started on create.
func programLicenseSchema() *Schema {
	return &Schema{
		Kind: ProgramLicenses,
		Fields: append([]Field{
			{Name: "platform_key", Type: String, Required: true},
			{Name: "platform_org", Type: String},
			{Name: "program_key", Type: String, Required: true},
		}, licenseFields(true)...),
		Key:     "external_id",
		TxField: "transaction_id",
		Check:   checkLicenseDates,
	}
}

// userLicenseSchema is a user license seat pool (seed 001).
func userLicenseSchema() *Schema {
	return &Schema{
		Kind: UserLicenses,
		Fields: append([]Field{
			{Name: "platform_key", Type: String, Required: true},
			{Name: "platform_org", Type: String},
		}, licenseFields(false)...),
		Key:     "external_id",
		TxField: "transaction_id",
		Check:   checkLicenseDates,
	}
}

// checkLicenseDates requires expired, when given, to be after started.
func checkLicenseDates(r *rowValues) *RowError {
	started, expired := r.get("started"), r.get("expired")
	if started.set && expired.set && !expired.t.After(started.t) {
		return rowErr(r.line, "", ErrExpiredBeforeStarted, "expired (%s) must be after started (%s)", expired.t.Format(time.RFC3339Nano), started.t.Format(time.RFC3339Nano))
	}
	return nil
}
