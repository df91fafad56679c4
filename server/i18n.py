"""Page language: Chinese by default, English on request (?lang=en, remembered in a cookie)."""
from __future__ import annotations

from flask import request

LANGS = ("zh", "en")

# every text a page shows, keyed by a short name: (Chinese, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app_name": ("走访", "Zoufang"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "home": ("首页", "Home"),
    "welcome": ("欢迎，{name}", "Welcome, {name}"),
    "role_admin": ("管理员", "Administrator"),
    "role_supervisor": ("督导", "Supervisor"),
    "role_cadre": ("帮扶干部", "Paired cadre"),
    "your_areas": ("你的区域", "Your areas"),
    "all_areas": ("全部区域", "All areas"),
    "no_areas": ("尚未分配区域", "No area assigned yet"),
    "forms": ("已发布的表单", "Published forms"),
    "form_version": ("版本", "Version"),
    "set_up_phone": ("配置 ODK Collect", "Set up ODK Collect"),
    "qr_title": ("为 {name} 配置手机", "Set up a phone for {name}"),
    "qr_explain": ("在 ODK Collect 中选择“配置项目” → “扫描二维码”，扫描下面的二维码。手机会自动连接本服务器、"
                   "下载表单并在有网络时自动发送。",
                   "In ODK Collect choose \u201cConfigure project\u201d \u2192 \u201cScan QR code\u201d and scan "
                   "the code below. The phone connects to this server, downloads the forms and sends "
                   "automatically when there is a network."),
    "qr_once": ("二维码只显示这一次。丢失手机时请撤销该设备。", "The code is shown only this once. Revoke the "
                "device if the phone is lost."),
    "device_name": ("设备名称", "Device name"),
    "create_device": ("生成新的二维码", "Make a new QR code"),
    "devices": ("设备", "Devices"),
    "revoke": ("撤销", "Revoke"),
    "revoked": ("已撤销", "Revoked"),
    "last_used": ("最近使用", "Last used"),
    "never": ("从未", "never"),
    "server_url": ("服务器地址", "Server URL"),
    "language": ("English", "中文"),
    "error": ("出错了", "Something went wrong"),
    "back_home": ("返回首页", "Back to home"),
    "roster_import": ("导入建档立卡名单", "Import the household roster"),
    "roster_explain": ("上传 CSV 或 XLSX 文件，每人一行，表头与模板相同（户编号、行政区划代码、村名、姓名、证件号码……）。"
                       "所有行先检查，有任何错误则整个文件都不导入；重复导入同一文件不会改变数据。",
                       "Upload a CSV or XLSX file, one row per person, with the template's headers (户编号, "
                       "行政区划代码, 村名, 姓名, 证件号码 …). Every row is checked first; any error refuses the "
                       "whole file. Importing the same file again changes nothing."),
    "choose_file": ("选择文件", "Choose a file"),
    "upload": ("上传并导入", "Upload and import"),
    "uploading": ("正在上传…", "Uploading…"),
    "checking": ("正在检查和导入…", "Checking and importing…"),
    "roster_done": ("导入完成：{households} 户（{rows} 行）；新增 {created}，更新 {updated}，未变 {unchanged}。",
                    "Imported {households} households ({rows} rows): {created} new, {updated} updated, "
                    "{unchanged} unchanged."),
    "row": ("行", "Row"),
    "column": ("列", "Column"),
    "problem": ("问题", "Problem"),
}


def current_lang() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in LANGS:
        return lang
    return "zh"


def translate(key: str, **values) -> str:
    zh, en = TEXTS[key]
    text = en if current_lang() == "en" else zh
    return text.format(**values) if values else text
