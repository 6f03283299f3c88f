"""Bilingual (zh/en) error catalogue for XLSForm uploads.

pyxform's messages are English only and name the problem, not always the fix; form
designers in the township read Chinese. Each code has a zh and en template plus a
fix hint; pyxform's original text is always kept beside it for support staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorTemplate:
    """One catalogue entry: message and fix in both languages."""

    zh: str
    en: str
    fix_zh: str
    fix_en: str


class _Lenient(Formatter):
    """Missing context keys render as '?' instead of raising KeyError."""

    def get_value(self, key: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        if isinstance(key, str):
            value = kwargs.get(key)
            return "?" if value is None else value
        return super().get_value(key, args, kwargs)


_FMT = _Lenient()

CATALOGUE: dict[str, ErrorTemplate] = {
    # Upload guards (before pyxform runs)
    "DS001": ErrorTemplate(
        "文件过大：{size} 字节，上限为 {limit} 字节。",
        "The file is too large: {size} bytes, the limit is {limit} bytes.",
        "删除无用的工作表、图片或空行后再上传。",
        "Remove unused sheets, pictures or empty rows and upload again.",
    ),
    "DS002": ErrorTemplate(
        "文件为空。",
        "The file is empty.",
        "请选择正确的 XLSForm 文件。",
        "Choose the XLSForm file again.",
    ),
    "DS003": ErrorTemplate(
        "不支持的文件类型“{extension}”。",
        "Unsupported file type '{extension}'.",
        "请上传 .xlsx、.xlsm、.xls、.csv 或 .md 格式的 XLSForm。",
        "Upload an XLSForm as .xlsx, .xlsm, .xls, .csv or .md.",
    ),
    "DS004": ErrorTemplate(
        "文件解压后过大（{uncompressed} 字节，压缩比 {ratio}），疑似压缩炸弹。",
        "The file expands to {uncompressed} bytes (ratio {ratio}); it looks like a zip bomb.",
        "请在 Excel 中重新保存表单，只保留 XLSForm 需要的工作表。",
        "Save the form again in Excel, keeping only the sheets an XLSForm needs.",
    ),
    "DS005": ErrorTemplate(
        "文件名为“{filename}”，但内容不是 Excel（.xlsx）表格。",
        "The file is named '{filename}' but is not an Excel (.xlsx) workbook.",
        "请在 Excel 或 WPS 中打开表单并另存为 .xlsx 格式。",
        "Open the form in Excel or WPS and save it as .xlsx.",
    ),
    "DS006": ErrorTemplate(
        "文件“{filename}”实际上是旧版 Excel 97-2003（.xls）文件，却以 .xlsx 命名。",
        "The file '{filename}' is an old Excel 97-2003 (.xls) file named .xlsx.",
        "请将文件扩展名改为 .xls 后重新上传，或在 Excel 中另存为 .xlsx。",
        "Rename the file to .xls and upload again, or save it as .xlsx in Excel.",
    ),
    "DS007": ErrorTemplate(
        "文件名为“{filename}”，但内容不是 Excel 97-2003（.xls）表格。",
        "The file is named '{filename}' but is not an Excel 97-2003 (.xls) workbook.",
        "如果它是 .xlsx 文件，请改扩展名为 .xlsx；否则请在 Excel 中另存为 .xlsx。",
        "If it is an .xlsx file rename it to .xlsx; otherwise save it as .xlsx in Excel.",
    ),
    "DS008": ErrorTemplate(
        "文件“{filename}”不是 UTF-8 编码的文本。",
        "The file '{filename}' is not UTF-8 text.",
        "请以 UTF-8 编码保存 CSV/Markdown 文件，或改用 .xlsx。",
        "Save the CSV/Markdown file as UTF-8, or use .xlsx instead.",
    ),
    "DS009": ErrorTemplate(
        "无法读取表格文件（文件可能已损坏）。",
        "The spreadsheet could not be read (the file may be damaged).",
        "请在 Excel 中打开并重新保存后上传。",
        "Open it in Excel, save it again and upload the new file.",
    ),
    # Sheets and columns
    "DS101": ErrorTemplate(
        "缺少名为“survey”的工作表。",
        "There is no sheet named 'survey'.",
        "添加（或重命名）一个名为 survey 的工作表，其中列出问题。",
        "Add (or rename) a sheet called 'survey' that lists the questions.",
    ),
    "DS102": ErrorTemplate(
        "工作表“{sheet}”的列标题有误。",
        "The column headers of sheet '{sheet}' are invalid.",
        "检查第 1 行的列名（type、name、label 等）是否存在且拼写正确，不要重复。",
        "Check row 1: columns such as type, name, label must exist, be spelled right, "
        "and appear once.",
    ),
    "DS103": ErrorTemplate(
        "缺少 choices 工作表或其必需列（list_name、name、label）。",
        "The choices sheet or its required columns (list_name, name, label) are missing.",
        "添加 choices 工作表，包含 list_name、name、label 三列。",
        "Add a 'choices' sheet with the columns list_name, name and label.",
    ),
    # Survey rows
    "DS110": ErrorTemplate(
        "{where}未知的题型“{qtype}”。",
        "{where_en}Unknown question type '{qtype}'.",
        "检查 type 列的拼写，参见 https://xlsform.org/en/ref-table/ 。",
        "Check the spelling in the type column; see https://xlsform.org/en/ref-table/.",
    ),
    "DS111": ErrorTemplate(
        "{where}选项列表“{list_name}”在 choices 工作表中不存在。",
        "{where_en}The choice list '{list_name}' is not on the choices sheet.",
        "在 choices 工作表中添加 list_name 为“{list_name}”的选项，或修正 type 列中的列表名。",
        "Add choices with list_name '{list_name}', or fix the list name in the type column.",
    ),
    "DS112": ErrorTemplate(
        "{where}“{keyword}”没有配对（名称“{name}”）。",
        "{where_en}Unmatched '{keyword}' (name '{name}').",
        "每个 begin_group/begin_repeat 都需要对应的 end_group/end_repeat。",
        "Every begin_group/begin_repeat needs a matching end_group/end_repeat.",
    ),
    "DS113": ErrorTemplate(
        "{where}问题或分组缺少名称（name）。",
        "{where_en}A question or group has no name.",
        "在该行的 name 列填写一个英文名称。",
        "Fill in the name column of this row.",
    ),
    "DS114": ErrorTemplate(
        "{where}名称“{name}”重复。",
        "{where_en}The name '{name}' is used more than once.",
        "同一分组或重复组内的名称必须唯一，请改名。",
        "Names must be unique within their group or repeat; rename one of them.",
    ),
    "DS115": ErrorTemplate(
        "{where}名称不合法。",
        "{where_en}The name is not valid.",
        "名称须以英文字母或下划线开头，只能包含字母、数字、下划线、连字符或句点（不可用中文）。",
        "Names start with a letter or underscore and contain only letters, digits, _, - or .",
    ),
    "DS116": ErrorTemplate(
        "{where}choices 工作表中的选项有误（名称重复或缺少名称/标签）。",
        "{where_en}A choice on the choices sheet is invalid (duplicate or missing name/label).",
        "每个选项列表中的 name 必须唯一且不为空，并填写 label。",
        "Each choice needs a unique, non-empty name within its list, and a label.",
    ),
    "DS117": ErrorTemplate(
        "{where}题目“{name}”没有标签（label）或提示（hint）。",
        "{where_en}The question '{name}' has no label or hint.",
        "为该题填写 label（中文和英文列）。",
        "Fill in the label of this question (Chinese and English columns).",
    ),
    # Formulas / XPath
    "DS120": ErrorTemplate(
        "{where}{column_zh}中的表达式有误。",
        "{where_en}The expression in column '{column}' is invalid.",
        "检查 ${{问题名}} 引用的拼写、括号和引号是否成对。",
        "Check the ${{name}} references, and that brackets and quotes are balanced.",
    ),
    "DS121": ErrorTemplate(
        "{where}calculate 题缺少 calculation 公式。",
        "{where_en}A calculate question has no calculation.",
        "在该行的 calculation 列填写公式。",
        "Fill in the calculation column of this row.",
    ),
    "DS122": ErrorTemplate(
        "{where}参数（parameters）有误。",
        "{where_en}The parameters value is invalid.",
        "参数格式为 key1=value1 key2=value2，请核对该题型支持的参数。",
        "Write parameters as key1=value1 key2=value2, using keys this type accepts.",
    ),
    # Entities
    "DS130": ErrorTemplate(
        "{where}实体（entities）声明有误。",
        "{where_en}The entity (entities sheet / save_to) declaration is invalid.",
        "检查 entities 工作表的 list_name、label、entity_id 以及 survey 中的 save_to 列。",
        "Check list_name, label and entity_id on the entities sheet and the save_to column.",
    ),
    # Catch-alls
    "DS198": ErrorTemplate(
        "XLSForm 转换失败。",
        "The XLSForm could not be converted.",
        "请按下方 pyxform 原始信息修改表单。",
        "Fix the form using pyxform's original message below.",
    ),
    "DS199": ErrorTemplate(
        "pyxform 内部出错（{error_type}），表单中可能有它无法处理的内容。",
        "pyxform crashed ({error_type}); the form contains something it cannot handle.",
        "请检查最近修改的行；若无法解决，请将文件发给系统管理员。",
        "Check the rows you changed last; if that does not help, send the file to an admin.",
    ),
}

_COLUMN_ZH = {
    "relevant": "显示条件（relevant）",
    "constraint": "约束（constraint）",
    "calculation": "计算公式（calculation）",
    "choice_filter": "选项筛选（choice_filter）",
    "required": "必填（required）",
    "label": "标签（label）",
}


class FormError(Exception):
    """A form problem a designer can fix; carries pyxform's original text when any."""

    def __init__(
        self,
        code: str,
        context: dict[str, Any] | None = None,
        pyxform_message: str | None = None,
    ) -> None:
        if code not in CATALOGUE:
            raise ValueError(f"unknown error code {code}")
        self.code = code
        self.context: dict[str, Any] = dict(context or {})
        self.pyxform_message = pyxform_message
        self.sheet: str | None = self.context.get("sheet")
        self.row: int | None = self.context.get("row")
        self.column: str | None = self.context.get("column")
        tpl = CATALOGUE[code]
        ctx = self._render_context()
        self.message_zh = _FMT.format(tpl.zh, **ctx)
        self.message_en = _FMT.format(tpl.en, **ctx)
        self.fix_zh = _FMT.format(tpl.fix_zh, **ctx)
        self.fix_en = _FMT.format(tpl.fix_en, **ctx)
        super().__init__(str(self))

    def _render_context(self) -> dict[str, Any]:
        ctx = dict(self.context)
        where_zh = where_en = ""
        if self.row is not None:
            sheet = self.sheet or "survey"
            where_zh = f"工作表“{sheet}”第 {self.row} 行："
            where_en = f"Sheet '{sheet}', row {self.row}: "
        elif self.sheet:
            where_zh = f"工作表“{self.sheet}”："
            where_en = f"Sheet '{self.sheet}': "
        ctx.setdefault("where", where_zh)
        ctx.setdefault("where_en", where_en)
        column = self.column or ""
        ctx.setdefault("column_zh", _COLUMN_ZH.get(column, f"“{column}”列" if column else ""))
        return ctx

    def __str__(self) -> str:
        text = f"{self.code}: {self.message_zh} {self.fix_zh} / {self.message_en} {self.fix_en}"
        if self.pyxform_message:
            text += f" [pyxform: {self.pyxform_message}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and the designer's error page."""
        return {
            "code": self.code,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": {"zh": self.message_zh, "en": self.message_en},
            "fix": {"zh": self.fix_zh, "en": self.fix_en},
            "pyxform_message": self.pyxform_message,
        }


_ROW = re.compile(r"^\[row\s*:\s*(\d+)\]\s*")
_ON_SHEET = re.compile(r"On the '([^']+)' sheet, the '([^']+)' value(?: '([^']*)')?")


def _classify(msg: str) -> tuple[str, dict[str, Any]]:
    """Pick a catalogue code and context from pyxform's English message."""
    ctx: dict[str, Any] = {}
    m = _ROW.match(msg)
    if m:
        ctx["row"] = int(m.group(1))
        ctx["sheet"] = "survey"
    m = _ON_SHEET.search(msg)
    if m:
        ctx["sheet"], ctx["column"] = m.group(1), m.group(2)
        if m.group(3) is not None:
            ctx["name"] = m.group(3)
    low = msg.lower()

    if "sheet named 'survey'" in low or 'sheet named "survey"' in low:
        return "DS101", {"sheet": "survey"}
    if (m := re.search(r"Invalid headers provided for sheet: '([^']+)'", msg)) or (
        m := re.search(r"Duplicate column header: (\S+)", msg)
    ):
        ctx.setdefault("sheet", m.group(1) if "sheet:" in msg else "survey")
        return "DS102", ctx
    if "there should be a choices sheet" in low:
        return "DS103", {"sheet": "choices"}
    if m := re.search(r"List name not in choices sheet: (\S+)", msg):
        ctx["list_name"] = m.group(1)
        return "DS111", ctx
    if m := re.search(r"Unknown question type '([^']*)'", msg):
        ctx["qtype"] = m.group(1)
        return "DS110", ctx
    if m := re.search(r"Unmatched '([a-z_]+)'.*?name '([^']*)'", msg):
        ctx["keyword"], ctx["name"] = m.group(1), m.group(2)
        return "DS112", ctx
    if "with no name" in low:
        return "DS113", ctx
    if ctx.get("sheet") == "entities" or "entit" in low or "save_to" in low:
        return "DS130", ctx
    if ctx.get("sheet") == "choices":
        ctx.pop("name", None)
        return "DS116", ctx
    if ctx.get("column") == "name":
        if "must be unique" in low or "more than once" in low:
            return "DS114", ctx
        return "DS115", ctx
    if m := re.search(r"element named '([^']*)' has no label", msg):
        ctx["name"] = m.group(1)
        return "DS117", ctx
    if "missing calculation" in low:
        return "DS121", ctx
    if ctx.get("column") == "parameters":
        return "DS122", ctx
    if "reference variable" in low or "xpath" in low or ctx.get("column") in _COLUMN_ZH:
        return "DS120", ctx
    return "DS198", ctx


def from_pyxform(err: BaseException) -> FormError:
    """Translate any exception raised inside pyxform into a FormError (never re-raise it)."""
    from pyxform.errors import PyXFormError  # local: keep import cost off module import

    if isinstance(err, PyXFormError):
        message = str(err)
        code, ctx = _classify(message)
        # pyxform sometimes carries structured context; prefer it over regex results.
        for key in ("row", "sheet", "column"):
            if err.context.get(key) is not None:
                ctx[key] = err.context[key]
        return FormError(code, ctx, pyxform_message=message)
    message = f"{type(err).__name__}: {err}"
    return FormError("DS199", {"error_type": type(err).__name__}, pyxform_message=message)
