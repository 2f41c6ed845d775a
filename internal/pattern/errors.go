package pattern

// errorPrefix is the text AWS puts in front of every InvalidEventPatternException reason.
const errorPrefix = "Event pattern is not valid. Reason: "

// Error reports a pattern that Compile rejected.
//
// Error() returns exactly the first line of AWS's InvalidEventPatternException message,
// "Event pattern is not valid. Reason: <reason>", so that messages can be compared with
// AWS's. The reason texts are AWS's and event-ruler's, which is why they start with a
// capital letter, unlike the rest of auditstream's errors. Line and Column locate the
// problem in the submitted text (1-based; 0 when unknown), as AWS does on a second line.
type Error struct {
	// Reason is AWS's reason text, without the "Event pattern is not valid." prefix.
	Reason string
	// Line is the 1-based line of the pattern text the problem was found at, or 0.
	Line int
	// Column is the 1-based column (in bytes) the problem was found at, or 0.
	Column int
	// Offset is the 0-based byte offset the problem was found at, or -1.
	Offset int
}

// Error returns "Event pattern is not valid. Reason: " followed by the reason.
func (e *Error) Error() string { return errorPrefix + e.Reason }

// Reasons that are fixed strings. Formatted reasons are built where they occur.
const (
	reasonNotObject        = "Filter is not an object"
	reasonEmptyArray       = "Empty arrays are not allowed"
	reasonEmptyObject      = "Empty objects are not allowed"
	reasonNoMatchName      = "Match expression name not found"
	reasonOneKey           = "Only one key allowed in match expression"
	reasonMatchValue       = "Match value must be String, number, true, false, or null"
	reasonPrefixString     = "prefix match pattern must be a string"
	reasonSuffixString     = "suffix match pattern must be a string"
	reasonEIC              = "equals-ignore-case match pattern must be a string"
	reasonWildcardString   = "wildcard match pattern must be a string"
	reasonExists           = "exists match pattern must be either true or false."
	reasonNumericArray     = "Value of numeric must be an array."
	reasonNumericTooMany   = "Too many elements in numeric expression"
	reasonRangeTooMany     = "Too many terms in numeric range expression"
	reasonBottomTop        = "Bottom must be less than top"
	reasonABValue          = "Value of anything-but must be an array or single string/number value."
	reasonABList           = "Inside anything but list, start|null|boolean is not supported."
	reasonABMixed          = "Inside anything but list, either all values are number or string, mixed type is not supported"
	reasonABEIC            = "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
	reasonABName           = "Anything-But expression name not found"
	reasonABPrefixString   = "prefix/suffix match pattern must be a string"
	reasonABNullPrefix     = "Null prefix/suffix not allowed"
	reasonPrefixName       = "Prefix expression name not found"
	reasonSuffixName       = "Suffix expression name not found"
	reasonCIDRSlash        = "Malformed CIDR, one '/' required"
	reasonCIDRBits         = "Malformed CIDR, mask bits must be an integer"
	reasonCIDRNegative     = "Malformed CIDR, mask bits must not be negative"
	reasonCIDRv4           = "IPv4 mask bits must be < 32"
	reasonCIDRv6           = "IPv6 mask bits must be < 128"
	reasonOrArray          = "It must be an Array followed with $or."
	reasonOrTwo            = "There must have at least 2 Objects in $or relationship."
	reasonOrObject         = "Only JSON object is allowed in array of $or relationship."
	reasonTooComplex       = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"
	reasonTooDeep          = "Event pattern is nested too deeply"
	reasonUnexpectedEOF    = "Unexpected end-of-input"
	reasonTrailingContent  = "Unexpected content after the end of the pattern"
	reasonInvalidUTF8      = "Invalid UTF-8 in pattern text"
	reasonInvalidNumber    = "Invalid numeric value"
	reasonInvalidEscape    = "Unrecognized character escape in string"
	reasonControlCharacter = "Illegal unquoted character in string"
)

func reasonMustBeObjectOrArray(name string) string {
	return "\"" + name + "\" must be an object or an array"
}
