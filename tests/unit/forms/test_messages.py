"""pyxform messages located by sheet and row, in Chinese and English."""
from forms.messages import locate


def test_row_and_sheet_come_from_pyxform_context():
    message = locate("[row : 2] On the 'survey' sheet, the 'relevant' value is invalid. Reference variables must "
                     "contain a name from the 'survey' sheet. Could not find the name 'zz'.",
                     {"row": 2, "sheet": "survey"})
    assert (message.sheet, message.row) == ("survey", 2)
    assert message.message_zh == "survey 表第 2 行：“relevant”列引用了不存在的题目名“zz”：${} 中的名字必须是 survey 表中的题目名。"
    assert message.message_en.startswith("On the 'survey' sheet")


def test_row_prefix_without_sheet_means_the_survey_sheet():
    message = locate("[row : 5] Unmatched 'begin_group'. No matching 'end_group' was found for the name 'g'.")
    assert (message.sheet, message.row) == ("survey", 5)
    assert "begin_group" in message.message_zh and "“g”" in message.message_zh


def test_sheet_named_in_the_text_is_used():
    message = locate("[row : 4] On the 'choices' sheet, something odd.")
    assert (message.sheet, message.row) == ("choices", 4)


def test_untranslated_message_keeps_the_english_behind_a_chinese_lead_in():
    message = locate("Something pyxform says that we have not translated.")
    assert message.sheet is None and message.row is None
    assert message.message_zh == "XLSForm 有误（原文）：Something pyxform says that we have not translated."


def test_unknown_question_type_is_translated():
    assert locate("Unknown question type 'textt'.").message_zh == "未知的题型“textt”。"


def test_a_translated_message_keeps_pyxforms_sentence_as_the_detail():
    # issue 17 item 5: the admin reads Chinese, the original stays for whoever searches for it
    message = locate("Argument 'definition' was not recognized as a supported type. Must be one of: .xlsx, .xls")
    assert message.message_zh.startswith("无法读取这个文件：它不是 Excel 表格（.xlsx）")
    assert message.detail == message.message_en and "not recognized" in message.detail
    assert locate("Something pyxform says that we have not translated.").detail is None
