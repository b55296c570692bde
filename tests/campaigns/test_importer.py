"""Unit tests for the call-list CSV reader (campaigns.importer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaigns.importer import (
    CsvImportError,
    ParsedContact,
    ParsedList,
    RowError,
    normalize_phone,
    read_call_list,
)

WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Write text (in a chosen encoding) or raw bytes to a file and return its path."""

    def write(content: str | bytes, encoding: str = "utf-8", name: str = "list.csv") -> Path:
        path = tmp_path / name
        data = content if isinstance(content, bytes) else content.encode(encoding)
        path.write_bytes(data)
        return path

    return write


def phones(parsed: ParsedList) -> list[tuple[int, str]]:
    return [(c.row, c.phone) for c in parsed.contacts]


def problems(parsed: ParsedList) -> list[tuple[int, str, str]]:
    return [(e.row, e.value, e.reason) for e in parsed.errors]


def assert_invariant(parsed: ParsedList) -> None:
    assert parsed.total_rows == len(parsed.contacts) + len(parsed.errors)
    rows = [c.row for c in parsed.contacts] + [e.row for e in parsed.errors]
    assert len(rows) == len(set(rows)), "a row was reported twice"


def import_error(path: Path, **kwargs: str) -> str:
    with pytest.raises(CsvImportError) as info:
        read_call_list(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "file-level errors must be one line"
    assert str(path) in message, "file-level errors must name the file"
    return message


# -- encodings -----------------------------------------------------------------------

def test_utf8_file_is_parsed_into_contacts_with_fields_in_file_order(write_csv: WriteCsv):
    path = write_csv("name,phone,city,plan\n김민수,010-1111-0001,서울,basic\n"
                     "이영희,010-1111-0002,부산,premium\n")
    parsed = read_call_list(path)
    assert parsed.path == path
    assert parsed.encoding == "utf-8"
    assert parsed.delimiter == ","
    assert parsed.phone_column == "phone"
    assert parsed.columns == ["name", "phone", "city", "plan"]
    assert parsed.total_rows == 2
    assert parsed.errors == []
    assert parsed.contacts == [
        ParsedContact(2, "+821011110001", {"name": "김민수", "city": "서울", "plan": "basic"}),
        ParsedContact(3, "+821011110002", {"name": "이영희", "city": "부산", "plan": "premium"}),
    ]
    assert list(parsed.contacts[0].fields) == ["name", "city", "plan"]


def test_path_may_be_given_as_str(write_csv: WriteCsv):
    path = write_csv("phone\n010-1234-5678\n")
    parsed = read_call_list(str(path))
    assert parsed.path == path
    assert phones(parsed) == [(2, "+821012345678")]


def test_utf8_bom_is_reported_and_not_glued_to_the_first_header(write_csv: WriteCsv):
    path = write_csv(b"\xef\xbb\xbf" + "phone,이름\n010-1234-5678,김민수\n".encode())
    parsed = read_call_list(path)
    assert parsed.encoding == "utf-8-sig"
    assert parsed.columns == ["phone", "이름"]
    assert parsed.phone_column == "phone"
    assert phones(parsed) == [(2, "+821012345678")]


def test_cp949_file_with_korean_headers(write_csv: WriteCsv):
    path = write_csv("이름,전화번호,주소\n김민수,010-1234-5678,서울시 강남구\n"
                     "이영희,02-123-4567,부산\n", encoding="cp949")
    parsed = read_call_list(path)
    assert parsed.encoding == "cp949"
    assert parsed.phone_column == "전화번호"
    assert parsed.columns == ["이름", "전화번호", "주소"]
    assert parsed.contacts == [
        ParsedContact(2, "+821012345678", {"이름": "김민수", "주소": "서울시 강남구"}),
        ParsedContact(3, "+8221234567", {"이름": "이영희", "주소": "부산"}),
    ]


def test_cp949_with_ascii_headers_and_korean_values(write_csv: WriteCsv):
    path = write_csv("name,phone,memo\n홍길동,01012345678,오후에 전화 요망\n", encoding="cp949")
    parsed = read_call_list(path)
    assert parsed.encoding == "cp949"
    assert parsed.contacts[0].fields == {"name": "홍길동", "memo": "오후에 전화 요망"}


def test_gb18030_file_with_chinese_headers(write_csv: WriteCsv):
    path = write_csv("姓名,电话\n张三,13800138000\n", encoding="gb18030")
    parsed = read_call_list(path, default_region="CN")
    assert parsed.encoding == "gb18030"
    assert parsed.phone_column == "电话"
    assert parsed.contacts == [ParsedContact(2, "+8613800138000", {"姓名": "张三"})]


def test_gb18030_file_with_ascii_headers_and_chinese_values(write_csv: WriteCsv):
    # These bytes also decode as cp949 (into Hanja); the Hanja share must tip it to gb18030.
    path = write_csv("name,phone\n王五,13800138000\n", encoding="gb18030")
    parsed = read_call_list(path, default_region="CN")
    assert parsed.encoding == "gb18030"
    assert parsed.contacts[0].fields == {"name": "王五"}


def test_gb18030_with_chinese_mobile_header(write_csv: WriteCsv):
    path = write_csv("客户,手机号,备注\n王小明,138 0013 8000,下午联系\n", encoding="gb18030")
    parsed = read_call_list(path, default_region="CN")
    assert parsed.encoding == "gb18030"
    assert parsed.phone_column == "手机号"
    assert parsed.contacts[0].fields == {"客户": "王小明", "备注": "下午联系"}


def test_mixed_utf8_and_cp949_lines_are_each_read_in_their_own_encoding(write_csv: WriteCsv):
    # Two lists pasted together: one saved by a UTF-8 tool, one by Korean Excel.
    path = write_csv("name,phone,memo\n김민수,010-1234-5678,오전\n".encode()
                     + "이영희,010-1234-5679,오후 통화\n".encode("cp949")
                     + "박지훈,010-1234-5670,\n".encode())
    parsed = read_call_list(path)
    assert parsed.encoding == "mixed (utf-8, cp949)"
    assert [(c.row, c.phone, c.fields["name"]) for c in parsed.contacts] == [
        (2, "+821012345678", "김민수"), (3, "+821012345679", "이영희"),
        (4, "+821012345670", "박지훈")]
    assert parsed.contacts[1].fields["memo"] == "오후 통화" and parsed.errors == []


def test_mixed_utf8_and_gb18030_lines(write_csv: WriteCsv):
    path = write_csv("姓名,电话\n张三,13800138000\n".encode()
                     + "王小明,13800138001\n李四,13800138002\n".encode("gb18030"))
    parsed = read_call_list(path, default_region="CN")
    assert parsed.encoding == "mixed (utf-8, gb18030)"
    assert [c.fields["姓名"] for c in parsed.contacts] == ["张三", "王小明", "李四"]


def test_a_line_no_encoding_reads_is_rejected_and_the_rest_stored(write_csv: WriteCsv):
    path = write_csv("name,phone\n김민수,010-1234-5678\n".encode()
                     + "이영희,010-1234-5679\n".encode("cp949")
                     + b"\xff\xfe\x80,010-1234-5671\n" + "박지훈,010-1234-5670\n".encode())
    parsed = read_call_list(path)
    assert [c.row for c in parsed.contacts] == [2, 3, 5]
    assert [(e.row, e.value) for e in parsed.errors] == [(4, "010-1234-5671")]
    assert "mixes encodings" in parsed.errors[0].reason


def test_a_file_mostly_unreadable_is_still_refused(write_csv: WriteCsv):
    path = write_csv(b"phone\n\x80\xff,1\n\xff\x80,2\n\x81\xfe,3\n")
    assert "cannot read the file as text" in import_error(path)


def test_utf16_with_bom_from_excel_unicode_text_export(write_csv: WriteCsv):
    path = write_csv("name\tphone\n김민수\t010-1234-5678\n", encoding="utf-16")
    parsed = read_call_list(path)
    assert parsed.encoding == "utf-16"
    assert parsed.delimiter == "\t"
    assert phones(parsed) == [(2, "+821012345678")]


def test_binary_garbage_is_rejected_with_the_documented_message(write_csv: WriteCsv):
    path = write_csv(bytes(range(256)) * 8, name="garbage.csv")
    message = import_error(path)
    assert message == (f"{path}: cannot read the file as text (tried UTF-8, CP949, GB18030); "
                       "save it as UTF-8 CSV and upload again")


def test_undecodable_bytes_without_nul_are_rejected(write_csv: WriteCsv):
    # 0x80 and 0xFF are invalid as lone bytes in all three encodings.
    path = write_csv(b"phone\n\x80\xff\x80\xff\n")
    assert "cannot read the file as text" in import_error(path)


def test_excel_workbook_gets_a_save_as_csv_hint(write_csv: WriteCsv):
    path = write_csv(b"PK\x03\x04" + bytes(range(256)), name="list.xlsx")
    message = import_error(path)
    assert "Excel workbook" in message
    assert "CSV UTF-8" in message


# -- delimiters and cells ------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_detected(write_csv: WriteCsv, delimiter: str):
    text = "\n".join(delimiter.join(r) for r in [
        ["name", "phone", "city"], ["Kim", "010-1234-5678", "Seoul"],
        ["Lee", "010-2222-3333", "Busan"]]) + "\n"
    parsed = read_call_list(write_csv(text))
    assert parsed.delimiter == delimiter
    assert parsed.columns == ["name", "phone", "city"]
    assert phones(parsed) == [(2, "+821012345678"), (3, "+821022223333")]
    assert parsed.contacts[1].fields == {"name": "Lee", "city": "Busan"}


def test_semicolon_file_with_decimal_commas_in_values(write_csv: WriteCsv):
    path = write_csv("name;phone;amount\nKim;010-1234-5678;3,50\nLee;010-2222-3333;12,00\n")
    parsed = read_call_list(path)
    assert parsed.delimiter == ";"
    assert [c.fields["amount"] for c in parsed.contacts] == ["3,50", "12,00"]


def test_single_column_file_defaults_to_comma_and_has_empty_fields(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("phone\n010-1234-5678\n010-2222-3333\n"))
    assert parsed.delimiter == ","
    assert parsed.contacts == [ParsedContact(2, "+821012345678", {}),
                               ParsedContact(3, "+821022223333", {})]


def test_leading_zeros_and_numeric_looking_cells_stay_strings(write_csv: WriteCsv):
    path = write_csv("customer_id,phone,zip,score,note\n"
                     "000123,01012345678,06236,1.50,NA\n")
    parsed = read_call_list(path)
    assert parsed.contacts[0].fields == {
        "customer_id": "000123", "zip": "06236", "score": "1.50", "note": "NA"}
    assert parsed.contacts[0].phone == "+821012345678"


def test_headers_and_values_are_stripped_and_short_rows_padded(write_csv: WriteCsv):
    path = write_csv("  name , phone ,city\n  Kim  ,  010-1234-5678 \nLee,010-2222-3333,Busan\n")
    parsed = read_call_list(path)
    assert parsed.columns == ["name", "phone", "city"]
    assert parsed.contacts[0] == ParsedContact(2, "+821012345678", {"name": "Kim", "city": ""})
    assert parsed.contacts[1].fields == {"name": "Lee", "city": "Busan"}


def test_empty_cells_are_empty_strings(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("name,phone,city\n,010-1234-5678,\n"))
    assert parsed.contacts[0].fields == {"name": "", "city": ""}


def test_crlf_line_endings(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("name,phone\r\nKim,010-1234-5678\r\n\r\nLee,010-2222-3333\r\n"))
    assert phones(parsed) == [(2, "+821012345678"), (4, "+821022223333")]
    assert parsed.contacts[0].fields == {"name": "Kim"}


def test_duplicate_and_blank_header_names_are_made_unique(write_csv: WriteCsv):
    path = write_csv("name,phone,name,,\nKim,010-1234-5678,Minsu,VIP,\n")
    parsed = read_call_list(path)
    # The last column has no header and no data, so it is dropped; the 4th has data.
    assert parsed.columns == ["name", "phone", "name_2", "column_4"]
    assert parsed.contacts[0].fields == {"name": "Kim", "name_2": "Minsu", "column_4": "VIP"}


# -- row numbers, blank lines, quoting -------------------------------------------------

def test_quoted_cells_with_commas_and_newlines_count_as_one_row(write_csv: WriteCsv):
    path = write_csv('name,phone,memo\n'
                     '"Kim, Minsu",010-1111-0001,"first line\nsecond line\nthird"\n'
                     'Lee,010-1111-0002,"say ""hi"""\n'
                     'Park,12345,x\n')
    parsed = read_call_list(path)
    # Spreadsheet rows: the 3-line record is row 2, so Lee is row 3 (text line 5).
    assert phones(parsed) == [(2, "+821011110001"), (3, "+821011110002")]
    assert parsed.contacts[0].fields == {"name": "Kim, Minsu",
                                         "memo": "first line\nsecond line\nthird"}
    assert parsed.contacts[1].fields["memo"] == 'say "hi"'
    assert problems(parsed) == [(4, "12345", "not a valid phone number for region KR")]


def test_blank_lines_keep_row_numbers_but_are_not_counted(write_csv: WriteCsv):
    path = write_csv("name,phone\nKim,010-1111-0001\n\n   \n,\n ,  \nLee,010-1111-0002\n\n\n")
    parsed = read_call_list(path)
    assert phones(parsed) == [(2, "+821011110001"), (7, "+821011110002")]
    assert parsed.total_rows == 2
    assert parsed.errors == []


def test_blank_lines_before_the_header_shift_row_numbers(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("\n\nname;phone\nKim;010-1234-5678\n"))
    assert parsed.columns == ["name", "phone"]
    assert phones(parsed) == [(4, "+821012345678")]


def test_delimiter_only_lines_before_the_header_are_skipped(write_csv: WriteCsv):
    parsed = read_call_list(write_csv(",,\nname,phone,city\nKim,010-1234-5678,Seoul\n"))
    assert parsed.columns == ["name", "phone", "city"]
    assert phones(parsed) == [(3, "+821012345678")]


def test_unclosed_quote_is_a_file_error_naming_the_row(write_csv: WriteCsv):
    path = write_csv('name,phone\nKim,010-1111-0001\n"Lee,010-1111-0002\nPark,010-1111-0003\n')
    message = import_error(path)
    assert "row 3" in message
    assert "never closed" in message


def test_rows_with_too_many_cells_are_errors_keeping_every_cell(write_csv: WriteCsv):
    path = write_csv("name,phone,city\nKim,010-1111-0001,Seoul\n"
                     "Lee,010-1111-0002,Busan,Korea,VIP\n"
                     "Park,010-1111-0003,Daegu,,\n")
    parsed = read_call_list(path)
    assert_invariant(parsed)
    assert phones(parsed) == [(2, "+821011110001"), (4, "+821011110003")]
    [error] = parsed.errors
    assert error == RowError(
        3, "010-1111-0002",
        "has 5 cells but the header has 3; put quotes around values that contain ','",
        {"name": "Lee", "phone": "010-1111-0002", "city": "Busan", "_extra_1": "Korea",
         "_extra_2": "VIP"})


def test_ragged_rows_keep_spreadsheet_row_numbers_around_blank_and_multiline_rows(
        write_csv: WriteCsv):
    path = write_csv('name,phone,memo\n'
                     '\n'
                     'Kim,010-1111-0001,"two\nlines"\n'
                     'Lee,010-1111-0002,x,extra\n'
                     ',,,lost?\n'
                     'Park,010-1111-0003,y\n')
    parsed = read_call_list(path)
    assert_invariant(parsed)
    # Rows: header 1, blank 2, Kim 3 (two text lines), Lee 4, ",,,lost?" 5, Park 6.
    assert phones(parsed) == [(3, "+821011110001"), (6, "+821011110003")]
    assert parsed.contacts[0].fields == {"name": "Kim", "memo": "two\nlines"}
    assert [(e.row, e.value, e.raw) for e in parsed.errors] == [
        (4, "010-1111-0002",
         {"name": "Lee", "phone": "010-1111-0002", "memo": "x", "_extra_1": "extra"}),
        (5, "", {"name": "", "phone": "", "memo": "", "_extra_1": "lost?"}),
    ]
    assert parsed.errors[1].reason.startswith("has 4 cells but the header has 3")


def test_tab_file_with_too_many_cells_names_tab_in_the_reason(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("name\tphone\nKim\t010-1111-0001\tVIP\n"))
    assert parsed.delimiter == "\t"
    assert [e.reason for e in parsed.errors] == [
        "has 3 cells but the header has 2; put quotes around values that contain tab"]


# -- phone column ----------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Phone", "PHONE_NUMBER", "Phone Number", "mobile",
                                    "Mobile Phone", "cell", "Tel", "telephone", "msisdn",
                                    "전화번호", "휴대폰", "휴대폰 번호", "휴대전화", "연락처",
                                    "电话", "手机", "手机号", "电话号码", "number"])
def test_phone_column_is_auto_detected(write_csv: WriteCsv, header: str):
    parsed = read_call_list(write_csv(f"name,{header}\nKim,010-1234-5678\n"))
    assert parsed.phone_column == header
    assert parsed.contacts == [ParsedContact(2, "+821012345678", {"name": "Kim"})]


def test_specific_phone_name_wins_over_generic_number(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("number,name,mobile\n7,Kim,010-1234-5678\n"))
    assert parsed.phone_column == "mobile"
    assert parsed.contacts[0].fields == {"number": "7", "name": "Kim"}


def test_several_phone_like_columns_need_an_explicit_choice(write_csv: WriteCsv):
    message = import_error(write_csv("name,tel,mobile\nKim,02-123-4567,010-1234-5678\n"))
    assert "tel, mobile" in message
    assert "--phone-column" in message


def test_explicit_phone_column(write_csv: WriteCsv):
    path = write_csv("name,tel,mobile\nKim,02-123-4567,010-1234-5678\n")
    parsed = read_call_list(path, phone_column="mobile")
    assert parsed.phone_column == "mobile"
    assert parsed.contacts == [ParsedContact(2, "+821012345678",
                                             {"name": "Kim", "tel": "02-123-4567"})]


def test_explicit_phone_column_is_matched_case_insensitively(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("Name,Contact\nKim,010-1234-5678\n"), phone_column="contact")
    assert parsed.phone_column == "Contact"
    assert phones(parsed) == [(2, "+821012345678")]


def test_unknown_explicit_phone_column_lists_the_columns(write_csv: WriteCsv):
    message = import_error(write_csv("name,tel\nKim,02-123-4567\n"), phone_column="hp")
    assert "no column named 'hp'" in message
    assert "name, tel" in message
    assert "--phone-column" in message


def test_missing_phone_column_names_file_columns_and_fix(write_csv: WriteCsv):
    path = write_csv("name,city,plan\nKim,Seoul,basic\n", name="customers.csv")
    message = import_error(path)
    assert "customers.csv" in message
    assert "name, city, plan" in message
    assert 'rename the phone column to "phone"' in message
    assert "--phone-column" in message


def test_unnamed_phone_column_is_found_by_its_content(write_csv: WriteCsv):
    parsed = read_call_list(write_csv(
        "name,mobile_no,memo\nKim,010-1111-2222,vip\nLee,12,new\nPark,010-3333-4444,\n"
        "Choi,010-5555-6666,\nJung,010-7777-8888,\n"))
    assert parsed.phone_column == "mobile_no"  # 4 of 5 values are numbers: it is the column
    assert phones(parsed) == [(2, "+821011112222"), (4, "+821033334444"),
                              (5, "+821055556666"), (6, "+821077778888")]
    assert [(e.row, e.value) for e in parsed.errors] == [(3, "12")]
    assert parsed.contacts[0].fields == {"name": "Kim", "memo": "vip"}


def test_mostly_text_column_is_not_taken_for_phones(write_csv: WriteCsv):
    path = write_csv("name,note\nKim,010-1111-2222\nLee,call after 6\nPark,vip\n")
    assert "no phone number column found" in import_error(path)


def test_two_columns_of_numbers_need_an_explicit_choice(write_csv: WriteCsv):
    path = write_csv("name,home,work\nKim,02-123-4567,010-1111-2222\n")
    message = import_error(path)
    assert "several columns hold phone numbers (home, work)" in message
    assert phones(read_call_list(path, phone_column="work")) == [(2, "+821011112222")]


def test_missing_header_row_is_explained(write_csv: WriteCsv):
    message = import_error(write_csv("김민수,010-1234-5678\n이영희,010-2222-3333\n"))
    assert "looks like data, not a header" in message
    assert "010-1234-5678" in message


# -- file-level errors -------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"   \n\r\n\t\n", b"\xef\xbb\xbf", b",,,\n,,\n"])
def test_empty_file_is_a_file_error(write_csv: WriteCsv, content: bytes):
    message = import_error(write_csv(content))
    assert "the file is empty" in message


def test_header_only_file_has_no_rows(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("name,phone,city\n"))
    assert parsed.columns == ["name", "phone", "city"]
    assert parsed.phone_column == "phone"
    assert (parsed.total_rows, parsed.contacts, parsed.errors) == (0, [], [])


def test_missing_file_is_a_file_error(tmp_path: Path):
    message = import_error(tmp_path / "nope.csv")
    assert "file not found" in message


def test_directory_is_a_file_error(tmp_path: Path):
    assert "is a directory" in import_error(tmp_path)


def test_unknown_region_is_rejected_before_reading(write_csv: WriteCsv):
    with pytest.raises(ValueError, match="unknown region 'XX'"):
        read_call_list(write_csv("phone\n010-1234-5678\n"), default_region="XX")


# -- row errors ----------------------------------------------------------------------------

def test_invalid_numbers_are_rejected_with_row_and_value(write_csv: WriteCsv):
    path = write_csv("name,phone\nA,010-1234-5678\nB,12345\nC,N/A\nD,010-CALL-NOW\n"
                     "E,+1 123\nF,8.21012E+11\nG,010-1234-5678 #12\n")
    parsed = read_call_list(path)
    assert_invariant(parsed)
    assert phones(parsed) == [(2, "+821012345678")]
    assert [(e.row, e.value) for e in parsed.errors] == [
        (3, "12345"), (4, "N/A"), (5, "010-CALL-NOW"), (6, "+1 123"), (7, "8.21012E+11"),
        (8, "010-1234-5678 #12")]
    reasons = [e.reason for e in parsed.errors]
    assert reasons[0] == "not a valid phone number for region KR"
    assert reasons[1].startswith("not a phone number: ")
    assert "letters" in reasons[2]
    assert reasons[3] == "not a valid phone number for country code +1 (too few digits)"
    assert "scientific notation" in reasons[4]
    assert "extension (12)" in reasons[5]
    assert parsed.errors[0].raw == {"name": "B", "phone": "12345"}


def test_empty_phone_is_an_error_keeping_the_row(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("name,phone,city\nKim,,Seoul\nLee,  ,\n"))
    assert_invariant(parsed)
    assert parsed.contacts == []
    assert parsed.errors == [
        RowError(2, "", "phone is empty", {"name": "Kim", "phone": "", "city": "Seoul"}),
        RowError(3, "", "phone is empty", {"name": "Lee", "phone": "", "city": ""}),
    ]


def test_duplicates_in_any_format_point_to_the_first_row(write_csv: WriteCsv):
    path = write_csv("name,phone\nA,010-1234-5678\nB,010-2222-3333\nC,+82 10 1234 5678\n"
                     "D,01012345678\nE,010-2222-3333\n")
    parsed = read_call_list(path)
    assert_invariant(parsed)
    assert phones(parsed) == [(2, "+821012345678"), (3, "+821022223333")]
    assert problems(parsed) == [
        (4, "+82 10 1234 5678", "duplicate of row 2 (+821012345678)"),
        (5, "01012345678", "duplicate of row 2 (+821012345678)"),
        (6, "010-2222-3333", "duplicate of row 3 (+821022223333)"),
    ]
    assert parsed.errors[0].raw == {"name": "C", "phone": "+82 10 1234 5678"}


def test_an_invalid_first_occurrence_does_not_make_later_rows_duplicates(write_csv: WriteCsv):
    parsed = read_call_list(write_csv("phone\n12345\n12345\n010-1234-5678\n"))
    assert [e.reason for e in parsed.errors] == ["not a valid phone number for region KR"] * 2
    assert phones(parsed) == [(4, "+821012345678")]


def test_us_numbers_with_region_us(write_csv: WriteCsv):
    path = write_csv("name,phone\nA,(202) 555-0143\nB,202.555.0178\nC,555-0143\n")
    parsed = read_call_list(path, default_region="us")
    assert phones(parsed) == [(2, "+12025550143"), (3, "+12025550178")]
    assert problems(parsed) == [(4, "555-0143", "not a valid phone number for region US")]


def test_invariant_and_row_numbers_on_a_larger_mixed_file(write_csv: WriteCsv):
    lines = ["name,phone,city"]
    expected_ok: list[int] = []
    expected_reasons: dict[int, str] = {}
    for i in range(3000):
        if i % 97 == 0:
            lines.append("")  # blank line: keeps its row number, not counted
        row = len(lines) + 1
        kind = i % 4
        phone = {0: f"010-{2100 + i:04d}-{i:04d}", 1: "", 2: "bad-number",
                 3: "010-2000-0000"}[kind]
        lines.append(f"n{i},{phone},c{i}")
        if kind == 0 or (kind == 3 and i == 3):
            expected_ok.append(row)
        elif kind == 1:
            expected_reasons[row] = "phone is empty"
        elif kind == 2:
            expected_reasons[row] = "not a phone number: it contains letters"
        else:
            expected_reasons[row] = "duplicate of row 6 (+821020000000)"
    parsed = read_call_list(write_csv("\n".join(lines) + "\n"))
    assert parsed.total_rows == 3000
    assert_invariant(parsed)
    assert [c.row for c in parsed.contacts] == expected_ok
    assert {e.row: e.reason.split(";")[0] for e in parsed.errors} == expected_reasons
    assert all(c.fields["name"] == f"n{int(c.fields['city'][1:])}" for c in parsed.contacts)


def test_a_100_mb_line_is_one_rejected_row_kept_short_in_the_report(write_csv: WriteCsv):
    path = write_csv(b"name,phone\nkim,010-1234-5678\nlee,010-1234-5679"
                     + b"x" * (100 << 20) + b"\npark,010-1234-5670\n")
    parsed = read_call_list(path)
    assert [c.row for c in parsed.contacts] == [2, 4]
    (error,) = parsed.errors
    assert error.row == 3 and "letters" in error.reason
    assert len(error.value) < 2100 and error.value.endswith("(104,857,613 characters in the file)")
    assert error.raw["name"] == "lee"


def test_an_explicit_time_zone_column_is_each_contacts_zone(write_csv: WriteCsv):
    path = write_csv("name,phone,Time Zone\nkim,010-1234-5678,America/Los_Angeles\n"
                     "lee,010-1234-5679,\npark,010-1234-5670,Mars/Olympus\n")
    parsed = read_call_list(path)
    assert parsed.timezone_column == "Time Zone"
    assert [(c.row, c.zone) for c in parsed.contacts] == [(2, "America/Los_Angeles"), (3, None)]
    (bad,) = parsed.errors
    assert bad.row == 4 and "not an IANA zone name" in bad.reason
    two = write_csv("phone,tz,시간대\n010-1234-5678,Asia/Seoul,Asia/Seoul\n", name="two.csv")
    assert "several time zone columns" in import_error(two)


def test_never_closed_quote_before_a_huge_tail_names_the_row(write_csv: WriteCsv):
    path = write_csv('name,phone\nA,010-1234-5678\n"B,010-2222-3333\n' + "x" * 200_000 + "\n")
    message = import_error(path)
    assert "row 3" in message
    assert "never closed" in message


# -- normalize_phone -----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("010-1234-5678", "+821012345678"),
    ("01012345678", "+821012345678"),
    ("010 1234 5678", "+821012345678"),
    ("010.1234.5678", "+821012345678"),
    ("+82 10 1234 5678", "+821012345678"),
    ("+82-10-1234-5678", "+821012345678"),
    ("82-10-1234-5678", "+821012345678"),
    ("00182-10-1234-5678", "+821012345678"),
    ("  010-1234-5678  ", "+821012345678"),
    ("１０１２３４５６７８", "+821012345678"),
    ("(02) 123 4567", "+8221234567"),
    ("02-1234-5678", "+82212345678"),
    ("031-123-4567", "+82311234567"),
    ("051-123-4567", "+82511234567"),
    ("070-1234-5678", "+827012345678"),
    ("1588-1234", "+8215881234"),
    ("1012345678", "+821012345678"),     # Excel dropped the leading 0
    ("1012345678.0", "+821012345678"),   # ...and saved the cell as a float
    ("+1 202-555-0143", "+12025550143"),  # explicit country code beats the region
])
def test_normalize_korean_numbers(value: str, expected: str):
    assert normalize_phone(value, "KR") == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("(202) 555-0143", "+12025550143"),
    ("202-555-0143", "+12025550143"),
    ("1 202 555 0143", "+12025550143"),
    ("+1 (202) 555-0143", "+12025550143"),
])
def test_normalize_us_numbers(value: str, expected: str):
    assert normalize_phone(value, "US") == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("", "phone is empty"),
    ("   ", "phone is empty"),
    ("12345", "not a valid phone number for region KR"),
    ("02-12", "not a valid phone number for region KR"),
    ("+1 123", "not a valid phone number for country code +1 (too few digits)"),
    ("0101234567890123", "not a valid phone number for region KR (too many digits)"),
    ("--", "not a phone number: no phone number digits found"),
    ("-", "not a phone number: no phone number digits found"),
    ("+999 123", "not a phone number: unknown country code"),
    ("0082-10-1234-5678", "not a phone number: unknown country code"),
    ("1" * 300, "not a phone number: too long"),
    ("010-1111-2222 / 010-3333-4444", "not a phone number: too long"),
])
def test_normalize_rejections_have_a_reason(value: str, reason: str):
    with pytest.raises(ValueError) as info:
        normalize_phone(value, "KR")
    assert str(info.value) == reason


@pytest.mark.parametrize("value", ["010-CALL-NOW", "N/A", "전화없음", "abc010-1234-5678"])
def test_normalize_rejects_letters(value: str):
    with pytest.raises(ValueError, match="^not a phone number: it contains letters"):
        normalize_phone(value, "KR")


def test_normalize_rejects_extensions_instead_of_dropping_them():
    with pytest.raises(ValueError, match=r"^has an extension \(12\)"):
        normalize_phone("010-1234-5678#12", "KR")


def test_normalize_rejects_excel_scientific_notation():
    with pytest.raises(ValueError, match="scientific notation; format the column as Text"):
        normalize_phone("8.21012E+11", "KR")


def test_normalize_region_is_case_insensitive_and_validated():
    assert normalize_phone("010-1234-5678", "kr") == "+821012345678"
    with pytest.raises(ValueError, match="unknown region 'Korea'"):
        normalize_phone("010-1234-5678", "Korea")


def test_a_big_list_is_normalised_on_every_core_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from campaigns import import_phones
    from campaigns.phones import try_phone

    values = [f"010-{i // 10000:04d}-{i % 10000:04d}" for i in range(300)] + [
        "1.01E+10", "010-12A4-5678", "", "+1 212 555 0123", "02-123"]
    serial = [try_phone(v, "KR") for v in values]
    monkeypatch.setattr(import_phones, "PARALLEL_MIN", 10)
    assert import_phones.normalise_all(values, "KR") == serial
