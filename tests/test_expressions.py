"""Entra attribute-mapping expressions (shared/reference/entra_scim_facts.md §4, Src: FUNCS).

Every worked example of Microsoft's function reference is reproduced with its documented output,
followed by edge cases: empty arguments, missing values, nesting, non-ASCII text, escapes and
error positions.
"""

from __future__ import annotations

import random
import string
import unicodedata
from datetime import UTC, datetime

import pandas as pd
import pytest

from recon.core.expression_functions.text import title_case_dotnet, title_case_separators
from recon.core.expressions import (
    EvalContext,
    Expression,
    ExpressionError,
    check_columns,
    compile_expression,
    evaluate,
    evaluate_predicate,
)
from recon.errors import ConfigError

NA = None


def frame(**columns: list[str | None]) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame(index=range(1))
    return pd.DataFrame({k: pd.array(v, dtype="string") for k, v in columns.items()})


def one(expression: str, context: EvalContext | None = None, **values: str | None) -> object:
    """Evaluate over a single row whose columns are the keyword arguments."""
    result = evaluate(expression, frame(**{k: [v] for k, v in values.items()}), context)
    value = result.iloc[0]
    return None if value is pd.NA else value


# --- worked examples from the function reference ----------------------------------------------

# expression | columns | documented output
WORKED_EXAMPLES = [
    ('Append([userPrincipalName], ".test")', {"userPrincipalName": "John.Doe@contoso.com"},
     "John.Doe@contoso.com.test"),
    ("Coalesce([mail],[userPrincipalName])",
     {"mail": NA, "userPrincipalName": "John.Doe@contoso.com"}, "John.Doe@contoso.com"),
    ("CDate([StatusHireDate])", {"StatusHireDate": "2020-03-16-07:00"}, "3/16/2020 7:00:00 AM"),
    ('CDate("2021-06-30+08:00")', {}, "6/29/2021 4:00:00 PM"),
    ('CDate("2009-06-15T01:45:30-07:00")', {}, "6/15/2009 8:45:30 AM"),
    ('ConvertToBase64("Hello world!")', {}, "SABlAGwAbABvACAAdwBvAHIAbABkACEA"),
    ('ConvertToUTF8Hex("Hello world!")', {}, "48656C6C6F20776F726C6421"),
    ('DateAdd("d", 7, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"},
     "3/23/2012 7:00:00 AM"),
    ('DateAdd("d", -10, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"},
     "3/6/2012 7:00:00 AM"),
    ('DateAdd("ww", 2, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"},
     "3/30/2012 7:00:00 AM"),
    ('DateAdd("m", 10, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"},
     "1/16/2013 7:00:00 AM"),
    ('DateAdd("yyyy", 2, CDate([StatusHireDate]))', {"StatusHireDate": "2012-03-16-07:00"},
     "3/16/2014 7:00:00 AM"),
    ('DateDiff("d", "2021-08-18+08:00", "2021-08-31+08:00")', {}, "13"),
    ('DateDiff("d", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")', {}, "-3449"),
    ('DateDiff("ww", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")', {}, "-493"),
    ('DateDiff("m", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")', {}, "-113"),
    ('DateDiff("yyyy", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")', {}, "-9"),
    ('DateDiff("d", "2021-08-31+08:00", "2021-08-31+08:00")', {}, "0"),
    ('DateDiff("h", "2021-08-24", "2021-08-25")', {}, "24"),
    ('DateDiff("n", "2021-08-24", "2021-08-25")', {}, "1440"),
    ('DateDiff("s", "2021-08-24", "2021-08-25")', {}, "86400"),
    ("DateFromNum(129699324000000000)", {}, "1/1/2012 11:00:00 PM"),
    ('FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
     {"extensionAttribute1": "20150123105347.1Z"}, "2015-01-23"),
    ("IgnoreFlowIfNullOrEmpty(Switch([prefix], \"\", \"3443\", \"Dr.\", \"3444\", \"Prof.\", "
     "\"3445\", \"Prof. Dr.\"))", {"prefix": "9999"}, NA),
    ("IgnoreFlowIfNullOrEmpty(Switch([prefix], \"\", \"3443\", \"Dr.\", \"3444\", \"Prof.\", "
     "\"3445\", \"Prof. Dr.\"))", {"prefix": "3444"}, "Prof."),
    ('IIF([country]="USA",[country],[department])', {"country": "USA", "department": "Sales"},
     "USA"),
    ('IIF([country]="USA",[country],[department])', {"country": "DE", "department": "Sales"},
     "Sales"),
    ('IIF([country]="USA",IIF([state]="CA","True","False"),"False")',
     {"country": "USA", "state": "CA"}, "True"),
    ('IIF([country]="USA","True",IIF([state]="CA","True","False"))',
     {"country": "DE", "state": "CA"}, "True"),
    ('InStr("The quick brown fox","quick")', {}, "5"),
    ('InStr("repEated","e",3,vbBinaryCompare)', {}, "7"),
    ('Left("John Doe", 3)', {}, "Joh"),
    ("NormalizeDiacritics([givenName])", {"givenName": "Zoë"}, "Zoe"),
    ("PCase([firstName])", {"firstName": "PABLO GONSALVES (SECOND)"},
     "Pablo Gonsalves (Second)"),
    ("PCase([lastName],\" '-\")", {"lastName": "PINTO-DE'SILVA"}, "Pinto-De'Silva"),
    ('PCase(Join(" ",[firstName],[lastName]))', {"firstName": "GREGORY", "lastName": "JAMES"},
     "Gregory James"),
    ('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )',
     {"BusinessTitle": "Product Developer"}, "Software Engineer"),
    ('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', {"UserID": "jsmith"},
     "jsmith@contoso.com"),
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , '
     '"${phoneNumber}", , )', {"telephoneNumber": "+91 9998887777"}, "9998887777"),
    # Documented as "19998887777", but the class [()\\s-] has no "+": .NET keeps it too.
    ('Replace([mobile], , "[()\\\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"},
     "+19998887777"),
    ('Replace([mobile], , "[+()\\\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"},
     "19998887777"),
    ('Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )',
     {"AddressLineData": "545 Tremont Street"}, "888 Tremont Street"),
    ('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
     {"userPrincipalName": "jsmith@contoso.com"}, "jsmith"),
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", '
     '"phoneNumber" , , [mobile], )', {"telephoneNumber": "", "mobile": "+91 8887779999"},
     "8887779999"),
    ('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', {"mailNickname": "john_doe72"}, "72"),
    ('Replace([mail], "@contoso.com", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe"),
    ('Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane",'
     ' "SA", "Australia/Adelaide")', {"state": "QLD"}, "Australia/Brisbane"),
    ('Switch([statusFlag], "Default Value", "true", "1", "", "0")', {"statusFlag": NA}, "0"),
    ('Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', {"statusFlag": "TRUE"},
     "1"),
    ('Switch([country],[country],"","Other")', {"country": NA}, "Other"),
    ('Switch([country],[country],"","Other")', {"country": "Chile"}, "Chile"),
    ('ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], '
     '[PreferredLastName]))), "contoso.com"))',
     {"PreferredFirstName": "John", "PreferredLastName": "Smith"}, "john.smith@contoso.com"),
    ('Word("The quick brown fox",3," ")', {}, "brown"),
    ('Word("This,string!has&many separators",3,",!&#")', {}, "has"),
    ('Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))',
     {"givenName": "John", "surname": "Doe"}, "JohDoe"),
    ('Join(", ", "", [surname], [givenName])', {"givenName": "John", "surname": "Doe"},
     "Doe, John"),
    ("CBool([attribute1] = [attribute2])", {"attribute1": "x", "attribute2": "x"}, "True"),
    ("CStr([dn])", {"dn": "cn=Joe,dc=contoso,dc=com"}, "cn=Joe,dc=contoso,dc=com"),
    ('Not("True")', {}, "False"),
    ('Not("False")', {}, "True"),
    ("BitAnd(&HF, &HF7)", {}, "7"),
    ("Item(Split([proxyAddresses], \",\"), 1)", {"proxyAddresses": "SMTP:a@x, smtp:b@x"},
     "SMTP:a@x"),
    ('Redact([userPrincipalName])', {"userPrincipalName": "a@b"}, "a@b"),
]


@pytest.mark.parametrize(("expression", "columns", "expected"), WORKED_EXAMPLES)
def test_worked_examples(expression: str, columns: dict[str, str | None], expected: str | None):
    assert one(expression, **columns) == expected


def test_split_example_gives_a_list():
    result = evaluate('Split([extensionAttribute5], ",")',
                      frame(extensionAttribute5=["PermissionSetOne, PermissionSetTwo", None]))
    assert result.iloc[0] == ["PermissionSetOne", "PermissionSetTwo"]
    assert result.iloc[1] is pd.NA


def test_select_unique_value_example():
    expression = """SelectUniqueValue(
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")
    )"""  # noqa: E501
    names = {"PreferredFirstName": "John", "PreferredLastName": "Smith"}
    free = EvalContext(taken={"userPrincipalName": frozenset()})
    assert one(expression, free, **names) == "John.Smith@contoso.com"
    first_taken = EvalContext(taken={"userPrincipalName": frozenset({"john.smith@contoso.com"})})
    assert one(expression, first_taken, **names) == "J.Smith@contoso.com"
    two_taken = EvalContext(
        taken={"userPrincipalName": frozenset({"John.Smith@contoso.com", "J.Smith@contoso.com"})}
    )
    assert one(expression, two_taken, **names) == "Jo.Smith@contoso.com"


def test_now_uses_the_as_of_time():
    context = EvalContext(now=datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC))
    assert one("Now()", context) == "7/2/2021 3:33:38 PM"
    naive = EvalContext(now=datetime(2021, 7, 2, 0, 5, 0))
    assert one("Now()", naive) == "7/2/2021 12:05:00 AM"


def test_datediff_with_now_and_iif_example():
    expression = (
        'Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, '
        '"False", "True"), "0", "False")'
    )
    context = EvalContext(now=datetime(2024, 1, 1, tzinfo=UTC))
    data = frame(Active=["1", "1", "0", "2"],
                 StatusHireDate=["2024-01-03", "2024-02-01", "2024-01-03", "2024-01-03"])
    assert evaluate(expression, data, context).tolist() == ["True", "False", "False", pd.NA]


def test_guid_and_random_string_shapes():
    values = evaluate("Guid()", frame(x=["a", "b", "c"]))
    assert values.str.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}").all()
    assert values.nunique() == 3
    text = one('RandomString(10,2,2,2,1,"?,")')
    assert isinstance(text, str) and len(text) == 10
    assert sum(c.isdigit() for c in text) >= 2 and sum(c.isupper() for c in text) >= 2
    assert "?" not in text and "," not in text
    six = one("RandomString(6,3,0,0,3)")
    assert isinstance(six, str) and len(six) == 6 and sum(c.isdigit() for c in six) >= 3


def test_num_from_date_round_trips_date_from_num():
    assert one('NumFromDate("2012-01-01T23:00:00Z")') == "129699324000000000"
    workday = 'NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", ' \
              '"yyyy-MM-dd"), " 23:59:59-08:00"))'
    assert one(workday, ContractEndDate="2020-12-31-08:00") == str(
        int((datetime(2021, 1, 1, 7, 59, 59, tzinfo=UTC).timestamp()) * 10_000_000)
        + 116_444_736_000_000_000
    )


# --- syntax ------------------------------------------------------------------------------------


def test_compiled_expression_exposes_text_and_columns():
    compiled = compile_expression('Join(" ", [First Name], Coalesce([Middle], [Last Name]))')
    assert isinstance(compiled, Expression)
    assert compiled.text == 'Join(" ", [First Name], Coalesce([Middle], [Last Name]))'
    assert compiled.columns == frozenset({"First Name", "Middle", "Last Name"})
    assert compile_expression(compiled.text) is compiled  # cached


def test_bare_column_and_literal():
    data = frame(**{"Employee ID": ["42", None]})
    assert evaluate("[Employee ID]", data).tolist() == ["42", pd.NA]
    assert evaluate('"fixed"', data).tolist() == ["fixed", "fixed"]
    assert evaluate("[Employee ID]", data).dtype == "string"


def test_scim_paths_with_brackets_are_column_names():
    column = 'emails[type eq "work"].value'
    data = frame(**{column: ["A@X.COM"]})
    assert evaluate(f"ToLower([{column}])", data).tolist() == ["a@x.com"]


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"Company name: \\"Contoso\\""', 'Company name: "Contoso"'),
        ('"back\\\\slash"', "back\\slash"),
        ('"keep \\d as is"', "keep \\d as is"),
        ('""', ""),
        ('"Zoë Ødegård — 東京"', "Zoë Ødegård — 東京"),
    ],
)
def test_string_escapes(literal: str, value: str):
    assert one(f"CStr({literal})") == value


def test_empty_positional_arguments():
    assert one('Switch([x], , "a", "b")', x="a") == "b"
    assert one('Switch([x], , "a", "b")', x="z") is None
    assert one('Coalesce([a], , [b])', a=None, b="B") == "B"
    assert one('Join(".", [a], , [b])', a="x", b="y") == "x.y"


def test_whitespace_and_newlines_are_ignored():
    assert one('  ToUpper(\n  [x]\n  )  ', x="abc") == "ABC"


def test_nested_calls():
    expression = 'ToLower(Left(NormalizeDiacritics(Replace(Join(".", [f], [l]), " ", , , "", , ))' \
                 ', 20))'
    assert one(expression, f="Åsa Maria", l="Ødegård-Lindström") == "asamaria.oedegard-li"


def test_numbers_and_bare_compare_names():
    assert one('Join("", 1000, "x")') == "1000x"
    assert one('InStr("ABCabc", "c", 1, vbTextCompare)') == "3"
    assert one('InStr("ABCabc", "c", 1, vbBinaryCompare)') == "6"
    assert one('DateAdd("h", 1.5, CDate("2020-01-01"))') == "1/1/2020 1:30:00 AM"


# --- missing values ----------------------------------------------------------------------------


def test_missing_values_propagate_as_entra_documents():
    row = {"x": None, "y": "Y"}
    assert one("ToLower([x])", **row) is None
    assert one('Append([x], "@a")', **row) is None
    assert one("Append([y], [x])", **row) == "Y"
    assert one("Left([x], 2)", **row) == ""  # "If string is null, return empty string"
    assert one('Word([x], 1, " ")', **row) == ""
    assert one("Mid([x], 1, 2)", **row) is None
    assert one('Join(" ", [x], [y])', **row) == "Y"
    assert one('Join(" ", [x], [x])', **row) is None
    assert one("Coalesce([x], [x])", **row) is None
    assert one('Coalesce([x], "")', **row) == ""
    assert one("IsNull([x])", **row) == "True"
    assert one("IsNullOrEmpty([x])", **row) == "True"
    assert one("IsPresent([x])", **row) == "False"
    assert one("IsString([x])", **row) == "False"
    assert one("IsString([y])", **row) == "True"
    assert one("Count([x])", **row) == "0"
    assert one("Count([y])", **row) == "1"
    assert one("CDate([x])", **row) is None
    assert one('Replace([x], "a", , , "b", , )', **row) is None


def test_empty_string_is_like_missing_where_entra_says_so():
    assert one('IsNullOrEmpty("")') == "True"
    assert one('IsPresent("")') == "False"
    assert one('IsNull("")') == "False"
    assert one('IgnoreFlowIfNullOrEmpty("")') is None


def test_iif_condition_on_a_missing_attribute_fails():
    # Entra: "If the source attribute used within the IIF function is empty or null, the
    # condition check fails" — IIF([country]="", ...) and IIF(IsPresent([country]), ...) are
    # listed as unsupported; recon shows them as missing.
    assert one('IIF([country]="","Other",[country])', country=None) is None
    assert one('IIF(IsPresent([country]),[country],"Other")', country=None) is None
    assert one('IIF(IsPresent([country]),[country],"Other")', country="NZ") == "NZ"
    assert one('IIF([country]="USA",[country],[department])', country="DE", department=None) \
        is None


def test_switch_keys_are_case_sensitive():
    assert one('Switch([x], "none", "abc", "hit")', x="ABC") == "none"
    assert one('Switch([x], "none", "abc", "first", "abc", "second")', x="abc") == "first"


def test_switch_with_column_values():
    data = frame(code=["A", "B", None], a=["alpha", "x", "y"], b=["1", "beta", "2"])
    expression = 'Switch([code], "none", "A", [a], "B", [b])'
    assert evaluate(expression, data).tolist() == ["alpha", "beta", "none"]


# --- individual functions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('Left("John Doe", 0)', ""),
        ('Left("John Doe", -1)', "John Doe"),
        ('Left("Jo", 5)', "Jo"),
        ('Left("Zoë", 3)', "Zoë"),
        ('Mid("Ødegård", 2, 3)', "deg"),
        ('Mid("abc", 2, 10)', "bc"),
        ('Mid("abc", 5, 1)', ""),
        ('InStr("Ødegård", "g")', "4"),
        ('InStr("abc", "z")', "0"),
        ('InStr("abc", "")', "1"),
        ('InStr("Über über", "ü", 1, vbTextCompare)', "1"),
        ('InStr("Über über", "ü", 2, vbBinaryCompare)', "6"),
        ('Word("a  b", 2, " ")', "b"),
        ('Word("a b", 3, " ")', ""),
        ('Word("a b", 0, " ")', ""),
        ('Word(" lead", 1, " ")', "lead"),
        ('StripSpaces(" a b  c ")', "abc"),
        ('ToUpper("straße")', "STRAßE"),
        ('ToLower("İSTANBUL", "tr-TR")', "istanbul"),
        ('ToLower("ISPARTA", "tr-TR")', "ısparta"),
        ('ToUpper("istanbul", "tr-TR")', "İSTANBUL"),
        ('ToLower("ÅSA ÖBERG")', "åsa öberg"),
        ('PCase("o\'brien mcdonald")', "O'brien Mcdonald"),
        ('PCase("JEAN-LUC PICARD 3RD")', "Jean-Luc Picard 3Rd"),
        ('PCase("R2D2 unit")', "R2d2 Unit"),
        ('PCase("åsa ödegård")', "Åsa Ödegård"),
        ('PCase("anna-maria von der leyen", " ")', "Anna-maria Von Der Leyen"),
        ('NormalizeDiacritics("Ødegård Æbelø Straße Łukasz Dvořák Şahin İnönü")',
         "OEdegard AEbeloe Strasse Lukasz Dvorak Sahin Inonu"),
        ('NormalizeDiacritics("Đorđe Ķīnis")', "Đorđe Ķinis"),
        ('NormalizeDiacritics("A\u0304\u0301na")', "Ana"),
        ('ConvertToBase64("Zoë")', "WgBvAOsA"),
        ('ConvertToUTF8Hex("Zoë")', "5A6FC3AB"),
        ('Count(Split("a;b;c", ";"))', "3"),
        ('Item(Split("a;b;c", ";"), 3)', "c"),
        ('Item(Split("a;b;c", ";"), 4)', None),
        ('Item(Split("a;b;c", ";"), 0)', None),
        ('Join("|", Split("a; b;;c", ";"))', "a|b|c"),
        ('Join(",", RemoveDuplicates(Split("a,b,a,c,b", ",")))', "a,b,c"),
        ('CBool("true")', "True"),
        ('CBool("0")', "False"),
        ('CBool(1)', "True"),
        ('Not(CBool("false"))', "True"),
        ('CStr(12)', "12"),
        ('DateAdd("m", 1, CDate("2021-01-31"))', "2/28/2021 12:00:00 AM"),
        ('DateAdd("yyyy", 1, CDate("2020-02-29"))', "2/28/2021 12:00:00 AM"),
        ('DateAdd("n", -90, CDate("2020-01-01T00:00:00Z"))', "12/31/2019 10:30:00 PM"),
        ('DateDiff("d", "2021-01-01T12:00:00Z", "2021-01-02T11:59:59Z")', "0"),
        ('FormatDateTime("12/31/2020 11:05:09 PM", , "M/d/yyyy hh:mm:ss tt", "yyyy-MM-dd")',
         "2020-12-31"),
        ('FormatDateTime("20240105", , "yyyyMMdd", "dddd, d MMMM yyyy")',
         "Friday, 5 January 2024"),
        ('FormatDateTime("2024-01-05 07:08:09", , "yyyy-MM-dd HH:mm:ss", "h:mm tt")',
         "7:08 AM"),
        ('FormatDateTime("2024-01-05T23:30:00-02:00", , "yyyy-MM-ddTHH:mm:ssK", "o")',
         "2024-01-06T01:30:00.0000000Z"),
        ('FormatDateTime("05.01.24", , "dd.MM.yy", "yyyy\\\\-MM\\\\-dd")', "2024-01-05"),
        ('FormatDateTime("not a date", , "yyyy-MM-dd", "MM/dd/yyyy")', None),
        ('FormatDateTime("2024-02-30", , "yyyy-MM-dd", "MM/dd/yyyy")', None),
        ('FormatDateTime(" 2024-01-05 ", , "yyyy-MM-dd", "d")', "01/05/2024"),
        ('CDate("nonsense")', None),
        ('CDate("2024-03-01 13:45:00")', "3/1/2024 1:45:00 PM"),
        ('CDate("03/01/2024")', "3/1/2024 12:00:00 AM"),
        ('Replace("a.b.c", ".", , , "", , )', "abc"),
        ('Replace("John Smith", , "(\\\\w+) (\\\\w+)", , "$2, $1", , )', "Smith, John"),
        ('Replace("Ana Ödön", , "(?<first>\\\\w+) (?<last>\\\\w+)", , "${last} ${first}", , )',
         "Ödön Ana"),
        ('Replace("aXbXc", , "(?<=a)X", , "-", , )', "a-bXc"),
        ('Replace("abab", , "(?<x>a)b\\\\k<x>", , "!", , )', "!b"),
        ('Replace("cost $5", , "\\\\$(\\\\d)", , "$$$1", , )', "cost $5"),
        ('IIF(5 > 10, "big", "small")', "small"),
        ('IIF("10" > "9", "numeric", "text")', "numeric"),
        ('IIF("b" > "a", "yes", "no")', "yes"),
        ('IIF(DateDiff("d", "2024-01-01", "2024-01-10") >= 9, "yes", "no")', "yes"),
        ('IIF("a" <> "b", "differ", "same")', "differ"),
    ],
)
def test_functions(expression: str, expected: str | None):
    assert one(expression) == expected


def test_mid_and_left_with_column_counts():
    data = frame(name=["Alexander", "Bo", None], n=["3", "1", "2"])
    assert evaluate("Left([name], [n])", data).tolist() == ["Ale", "B", ""]
    assert evaluate("Mid([name], 2, [n])", data).tolist() == ["lex", "o", pd.NA]


def test_instr_mixed_ascii_and_non_ascii_rows():
    data = frame(v=["Zoë@x", "john@x", "Ødegård@x", None])
    assert evaluate('InStr([v], "@")', data).tolist() == ["4", "5", "8", pd.NA]


def test_pcase_fast_path_matches_reference_implementation():
    rng = random.Random(7)
    alphabet = string.ascii_letters + " -'’.,()0123456789" + "åäöüßøæéłńśžčğışÅÄÖÜØÆÉŁ" + "\u0301"
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
               for _ in range(400)]
    data = frame(v=samples)
    default = evaluate("PCase([v])", data).tolist()
    assert default == [title_case_dotnet(s) for s in samples]
    with_separators = evaluate("PCase([v], \" -'\")", data).tolist()
    assert with_separators == [title_case_separators(s, " -'") for s in samples]


def test_normalize_diacritics_keeps_ascii_and_unlisted_characters():
    samples = ["Plain ASCII", "Zoë", "François Ægir", "Nguyễn", "Ðoàn", None, ""]
    result = evaluate("NormalizeDiacritics([v])", frame(v=samples)).tolist()
    assert result[:3] == ["Plain ASCII", "Zoe", "Francois AEgir"]
    # ễ (e + circumflex + tilde) is not in Entra's table, so it stays
    assert result[3] == unicodedata.normalize("NFC", "Nguyễn")
    assert result[4] == "Ðoan"
    assert result[5] is pd.NA and result[6] == ""


# --- SelectUniqueValue ------------------------------------------------------------------------


def test_select_unique_value_is_unique_within_the_batch():
    data = frame(first=["Ann", "Ann", "Ann", "Bob"], last=["Lee", "Lee", "Lee", "Lee"])
    expression = ('SelectUniqueValue(Join(".", [first], [last]), '
                  'Join(".", Left([first], 1), [last]), Join("", [first], [last]))')
    context = EvalContext(taken={"userName": frozenset({"bob.lee"})}, attribute="userName")
    assert evaluate(expression, data, context).tolist() == ["Ann.Lee", "A.Lee", "AnnLee", "B.Lee"]


def test_select_unique_value_without_a_free_candidate_is_missing():
    context = EvalContext(taken={"mail": frozenset({"a", "b"})})
    assert one('SelectUniqueValue("a", "B")', context) is None
    assert one('SelectUniqueValue("a", "c")', context) == "c"


def test_select_unique_value_needs_to_know_the_attribute():
    context = EvalContext(taken={"mail": frozenset({"a"}), "userName": frozenset({"c"})})
    with pytest.raises(ExpressionError, match="attribute"):
        one('SelectUniqueValue("a", "c")', context)
    chosen = EvalContext(taken=context.taken, attribute="userName")
    assert one('SelectUniqueValue("c", "a")', chosen) == "a"


def test_select_unique_value_must_be_top_level():
    with pytest.raises(ExpressionError, match="SelectUniqueValue must be the whole expression"):
        compile_expression('ToLower(SelectUniqueValue("a", "b"))')
    with pytest.raises(ExpressionError, match="at least 2 arguments"):
        compile_expression('SelectUniqueValue("a")')


# --- predicates ---------------------------------------------------------------------------------


def test_predicates():
    data = frame(**{"userName": ["svc-backup", "alice", None],
                    "Worker Type": ["Employee", "Contingent Worker", None]})
    assert evaluate_predicate('Left([userName], 4) = "svc-"', data).tolist() == [
        True, False, False]
    assert evaluate_predicate('IIF(Left([userName], 4) = "svc-", "True", "False")', data) \
        .tolist() == [True, False, False]
    scope = ('IIF([Worker Type]="Employee", "True", IIF([Worker Type]="Contingent Worker", '
             '"True", "False"))')
    assert evaluate_predicate(scope, data).tolist() == [True, True, False]
    assert evaluate_predicate("IsPresent([userName])", data).tolist() == [True, True, False]
    assert evaluate_predicate('[userName] <> "alice"', data).dtype == bool


# --- errors -------------------------------------------------------------------------------------


def test_parse_error_names_the_position():
    with pytest.raises(ExpressionError) as raised:
        compile_expression('Join(" ", [a]')
    message = str(raised.value)
    assert "expected ')'" in message and "column 14" in message and 'Join(" ", [a]' in message
    assert isinstance(raised.value, ConfigError)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('Join(" " [a])', "column 10"),
        ('Join(" ", [a]))', "found ')' at column 15"),
        ('ToLower("abc)', "string is not closed"),
        ("ToLower([abc)", "attribute name is not closed with ']' at column 9"),
        ("ToLower(@)", "unexpected character '@' at column 9"),
        ("", "expression is empty"),
        ('Left("a", 1) Left("b", 1)', "column 14"),
    ],
)
def test_parse_errors(text: str, fragment: str):
    with pytest.raises(ExpressionError, match=None) as raised:
        compile_expression(text)
    assert fragment in str(raised.value)


def test_multiline_errors_give_line_and_column():
    with pytest.raises(ExpressionError, match="line 2, column 5"):
        compile_expression('Join(" ",\n    Bogus([a]))')


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("toLower([a])", "unknown function 'toLower'; did you mean 'ToLower'? at column 1"),
        ("NormaliseDiacritics([a])", "did you mean 'NormalizeDiacritics'?"),
        ("Lefft([a], 1)", "did you mean 'Left'?"),
        ("AppRoleAssignmentsComplex([appRoleAssignments])", "not supported"),
        ("SingleAppRoleAssignment([appRoleAssignments])", "not supported"),
        ("Left([a])", "Left takes 2 arguments, got 1"),
        ("Guid(1)", "Guid takes 0 arguments, got 1"),
        ('Switch([a], "d", "k")', "keys and values must come in pairs"),
        ('DateAdd("q", 1, Now())', "interval 'q' is not one of"),
        ('Replace([a], , "(", , "", , )', "invalid regular expression"),
        ('Replace([a], , "(?<x>a)", "y", "", , )', "no group named 'y'"),
        ('Replace([a], "x", , , , , )', "give oldValue with"),
        ('InStr("a", "b", 1, vbSometimes)', "unknown name 'vbSometimes'"),
        ('InStr("a", "b", 1, "loose")', "compareType must be"),
        ("IIF(, \"a\", \"b\")", "IIF: argument 1 may not be empty"),
        ('Word([a], 1, [b])', "Delimiters must be a constant"),
        ('RandomString(3, 2, 2, 0, 0)', "minimums add up to more than Length"),
        ('RandomString(300, 0, 0, 0, 0)', "at most 256"),
        ('FormatDateTime([a], , [b], "yyyy")', "inputFormat must be a constant"),
        ('ToLower([a], "not a culture!")', "is not a culture name"),
        ("Left(, 1)", "argument 1 may not be empty"),
        ("userName", "unknown name 'userName'"),
    ],
)
def test_compile_errors(text: str, fragment: str):
    with pytest.raises(ExpressionError) as raised:
        compile_expression(text)
    assert fragment in str(raised.value)


def test_unknown_column_suggests_the_closest():
    data = frame(**{"Legal First Name": ["a"], "Work Email": ["b"]})
    with pytest.raises(ExpressionError) as raised:
        evaluate("Coalesce([Legal Frist Name], [Work Email])", data)
    assert "unknown column 'Legal Frist Name'; did you mean 'Legal First Name'?" in str(
        raised.value)
    assert "column 10" in str(raised.value)


def test_check_columns_without_evaluating():
    check_columns("ToLower([Work Email])", ["Work Email", "Other"])
    with pytest.raises(ExpressionError, match="did you mean 'Work Email'"):
        check_columns("ToLower([work email])", ["Work Email"])
    with pytest.raises(ExpressionError, match="unknown column 'x'"):
        check_columns(compile_expression("[x]"), [])


# --- frames -------------------------------------------------------------------------------------


def test_index_is_kept_and_python_storage_works():
    data = pd.DataFrame(
        {"name": pd.array(["Zoë", None, "Ana"], dtype=pd.StringDtype("python"))},
        index=pd.Index([10, 11, 12], name="hr_row"),
    )
    result = evaluate("ToUpper([name])", data)
    assert result.index.equals(data.index)
    assert result.tolist() == ["ZOË", pd.NA, "ANA"]
    assert str(result.dtype) == "string"


def test_non_string_columns_are_read_as_text():
    data = pd.DataFrame({"active": [True, False], "n": [1, 2]})
    assert evaluate('IIF([active] = "True", "on", "off")', data).tolist() == ["on", "off"]
    assert evaluate('Join("-", [n], "x")', data).tolist() == ["1-x", "2-x"]


def test_empty_frame():
    data = frame(name=[])
    assert evaluate("ToLower([name])", data).tolist() == []
    assert evaluate("NormalizeDiacritics([name])", data).tolist() == []
    assert evaluate_predicate("IsPresent([name])", data).tolist() == []


def test_constant_expression_is_broadcast():
    data = frame(x=["a", "b"])
    assert evaluate('ToUpper("k")', data).tolist() == ["K", "K"]
    assert evaluate('DateAdd("d", 1, CDate("2024-01-01"))', data).tolist() == [
        "1/2/2024 12:00:00 AM"] * 2


# --- fast paths agree with the exact ones -------------------------------------------------------


def _random_names(count: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    alphabet = (string.ascii_letters + " -.'" + "äàâãåáąăāǟǡÄÅĄçčćďḏëèéêęěėēğḡïîìíıİīľłŁñńňöòőõôóō"
                "ȫøØæÆǣßřšśșşťțüùûúůűūǖÿýȳźžżẕđĐķễ—’😀" + "\u0301\u0304\u0331")
    out: list[str | None] = []
    for _ in range(count):
        out.append(None if rng.random() < 0.05 else
                   "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))))
    return out


def test_normalize_diacritics_byte_path_matches_the_table():
    from recon.core.expression_functions.text import normalize_diacritics_one

    samples = _random_names(2000, seed=11)
    result = evaluate("NormalizeDiacritics([v])", frame(v=samples)).tolist()
    assert result == [pd.NA if s is None else normalize_diacritics_one(s) for s in samples]


def test_normalize_diacritics_on_a_sliced_frame():
    data = frame(v=["x", "Zoë", "Ødegård", None, "Łódź"]).iloc[1:]
    assert evaluate("NormalizeDiacritics([v])", data).tolist() == [
        "Zoe", "OEdegard", pd.NA, "Lodz"]


@pytest.mark.parametrize(
    "pattern",
    ["[()\\\\s.-]+", "[^0-9]", "[^\\\\d]+", "[a-z]", "[^a-zA-Z ]*", "[\\\\]\\\\[]", "[ä-]+"],
)
def test_character_class_deletion_matches_python_regex(pattern: str):
    import re

    from recon.core.expression_functions.regex import translate_pattern

    samples = ["+1 (999) 888-7777", "Tel:\u00a012 34", "٣٤ 5-6", None, "ab.c[d]", "Zoë-ä",
               *_random_names(300, seed=5)]
    expression = f'Replace([v], , "{pattern}", , "", , )'
    regex = re.compile(translate_pattern(pattern.replace("\\\\", "\\")))
    expected = [pd.NA if s is None else regex.sub("", s) for s in samples]
    assert evaluate(expression, frame(v=samples)).tolist() == expected


def test_regex_with_unicode_classes_is_exact_on_non_ascii_rows():
    data = frame(v=["ab12", "Zoë٣٤x", "a\u00a0b"])
    assert evaluate('Replace([v], , "\\\\d", , "#", , )', data).tolist() == [
        "ab##", "Zoë##x", "a\u00a0b"]
    assert evaluate('Replace([v], , "\\\\s", , "_", , )', data).tolist() == [
        "ab12", "Zoë٣٤x", "a_b"]


def test_distinct_value_path_gives_the_same_answer():
    rng = random.Random(3)
    dates = [rng.choice(["2024-01-05", "2023-12-31", "bad", None, " 2020-02-29 "])
             for _ in range(3000)]
    titles = [rng.choice(["SENIOR O'REILLY 2ND", "DATA ANALYST", None, ""]) for _ in range(3000)]
    data = frame(d=dates, t=titles)
    for expression in ('FormatDateTime([d], , "yyyy-MM-dd", "dd.MM.yyyy")',
                       'DateAdd("m", 1, CDate([d]))', "PCase([t])",
                       'Switch(PCase([t]), "?", "", "empty", "Data Analyst", "DA")'):
        many = evaluate(expression, data).tolist()
        few = [evaluate(expression, data.iloc[[i]]).iloc[0] for i in range(0, 3000, 97)]
        assert many[::97] == few, expression
