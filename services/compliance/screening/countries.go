package screening

import "strings"

// countryCode maps a country as the lists write it ("Iran", "Korea, North", "Burma") or an ISO
// 3166 alpha-2 code to the upper-case alpha-2 code; a name it does not know is returned upper-
// cased as published, so it still compares equal to itself.
func countryCode(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 2 {
		return strings.ToUpper(s)
	}
	k := strings.Join(strings.Fields(fold(s)), " ")
	if c := isoCode(k); c != "" {
		return c
	}
	return strings.ToUpper(s)
}

func isoCode(name string) string {
	switch name {
	case "afghanistan":
		return "AF"
	case "albania":
		return "AL"
	case "algeria":
		return "DZ"
	case "angola":
		return "AO"
	case "argentina":
		return "AR"
	case "armenia":
		return "AM"
	case "australia":
		return "AU"
	case "austria":
		return "AT"
	case "azerbaijan":
		return "AZ"
	case "bahrain":
		return "BH"
	case "bangladesh":
		return "BD"
	case "belarus":
		return "BY"
	case "belgium":
		return "BE"
	case "belize":
		return "BZ"
	case "bolivia":
		return "BO"
	case "bosnia and herzegovina":
		return "BA"
	case "brazil":
		return "BR"
	case "bulgaria":
		return "BG"
	case "burma", "myanmar":
		return "MM"
	case "burundi":
		return "BI"
	case "cambodia":
		return "KH"
	case "cameroon":
		return "CM"
	case "canada":
		return "CA"
	case "central african republic":
		return "CF"
	case "chad":
		return "TD"
	case "chile":
		return "CL"
	case "china":
		return "CN"
	case "colombia":
		return "CO"
	case "congo democratic republic of the", "democratic republic of the congo":
		return "CD"
	case "congo republic of the", "congo":
		return "CG"
	case "costa rica":
		return "CR"
	case "croatia":
		return "HR"
	case "cuba":
		return "CU"
	case "cyprus":
		return "CY"
	case "czech republic", "czechia":
		return "CZ"
	case "denmark":
		return "DK"
	case "djibouti":
		return "DJ"
	case "dominican republic":
		return "DO"
	case "ecuador":
		return "EC"
	case "egypt":
		return "EG"
	case "el salvador":
		return "SV"
	case "eritrea":
		return "ER"
	case "estonia":
		return "EE"
	case "ethiopia":
		return "ET"
	case "finland":
		return "FI"
	case "france":
		return "FR"
	case "georgia":
		return "GE"
	case "germany":
		return "DE"
	case "ghana":
		return "GH"
	case "greece":
		return "GR"
	case "guatemala":
		return "GT"
	case "guinea":
		return "GN"
	case "haiti":
		return "HT"
	case "honduras":
		return "HN"
	case "hong kong":
		return "HK"
	case "hungary":
		return "HU"
	case "india":
		return "IN"
	case "indonesia":
		return "ID"
	case "iran":
		return "IR"
	case "iraq":
		return "IQ"
	case "ireland":
		return "IE"
	case "israel":
		return "IL"
	case "italy":
		return "IT"
	case "japan":
		return "JP"
	case "jordan":
		return "JO"
	case "kazakhstan":
		return "KZ"
	case "kenya":
		return "KE"
	case "korea north", "north korea", "democratic peoples republic of korea", "dprk":
		return "KP"
	case "korea south", "south korea", "republic of korea":
		return "KR"
	case "kosovo":
		return "XK"
	case "kuwait":
		return "KW"
	case "kyrgyzstan":
		return "KG"
	case "laos":
		return "LA"
	case "latvia":
		return "LV"
	case "lebanon":
		return "LB"
	case "liberia":
		return "LR"
	case "libya":
		return "LY"
	case "liechtenstein":
		return "LI"
	case "lithuania":
		return "LT"
	case "luxembourg":
		return "LU"
	case "malaysia":
		return "MY"
	case "mali":
		return "ML"
	case "malta":
		return "MT"
	case "marshall islands":
		return "MH"
	case "mauritania":
		return "MR"
	case "mexico":
		return "MX"
	case "moldova":
		return "MD"
	case "mongolia":
		return "MN"
	case "montenegro":
		return "ME"
	case "morocco":
		return "MA"
	case "mozambique":
		return "MZ"
	case "nepal":
		return "NP"
	case "netherlands":
		return "NL"
	case "new zealand":
		return "NZ"
	case "nicaragua":
		return "NI"
	case "niger":
		return "NE"
	case "nigeria":
		return "NG"
	case "north macedonia", "macedonia":
		return "MK"
	case "norway":
		return "NO"
	case "oman":
		return "OM"
	case "pakistan":
		return "PK"
	case "palestinian", "west bank", "gaza", "palestine":
		return "PS"
	case "panama":
		return "PA"
	case "paraguay":
		return "PY"
	case "peru":
		return "PE"
	case "philippines":
		return "PH"
	case "poland":
		return "PL"
	case "portugal":
		return "PT"
	case "qatar":
		return "QA"
	case "romania":
		return "RO"
	case "russia", "russian federation":
		return "RU"
	case "rwanda":
		return "RW"
	case "saudi arabia":
		return "SA"
	case "senegal":
		return "SN"
	case "serbia":
		return "RS"
	case "seychelles":
		return "SC"
	case "sierra leone":
		return "SL"
	case "singapore":
		return "SG"
	case "slovakia":
		return "SK"
	case "slovenia":
		return "SI"
	case "somalia":
		return "SO"
	case "south africa":
		return "ZA"
	case "south sudan":
		return "SS"
	case "spain":
		return "ES"
	case "sri lanka":
		return "LK"
	case "sudan":
		return "SD"
	case "sweden":
		return "SE"
	case "switzerland":
		return "CH"
	case "syria", "syrian arab republic":
		return "SY"
	case "taiwan":
		return "TW"
	case "tajikistan":
		return "TJ"
	case "tanzania":
		return "TZ"
	case "thailand":
		return "TH"
	case "tunisia":
		return "TN"
	case "turkey", "turkiye":
		return "TR"
	case "turkmenistan":
		return "TM"
	case "uganda":
		return "UG"
	case "ukraine":
		return "UA"
	case "united arab emirates", "uae":
		return "AE"
	case "united kingdom", "uk", "great britain":
		return "GB"
	case "united states", "united states of america", "usa", "us":
		return "US"
	case "uruguay":
		return "UY"
	case "uzbekistan":
		return "UZ"
	case "venezuela":
		return "VE"
	case "vietnam", "viet nam":
		return "VN"
	case "yemen":
		return "YE"
	case "zimbabwe":
		return "ZW"
	}
	return ""
}
