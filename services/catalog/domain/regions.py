"""Japan's 47 prefectures (JIS X 0401 codes; ISO 3166-2 is "JP-" + the JIS code)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from runtime.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Prefecture:
    jis_code: str
    name_en: str
    name_ja: str

    @property
    def iso_code(self) -> str:
        return f"JP-{self.jis_code}"


PREFECTURES: tuple[Prefecture, ...] = tuple(
    Prefecture(f"{index:02d}", en, ja)
    for index, (en, ja) in enumerate(
        [
            ("Hokkaido", "北海道"),
            ("Aomori", "青森県"),
            ("Iwate", "岩手県"),
            ("Miyagi", "宮城県"),
            ("Akita", "秋田県"),
            ("Yamagata", "山形県"),
            ("Fukushima", "福島県"),
            ("Ibaraki", "茨城県"),
            ("Tochigi", "栃木県"),
            ("Gunma", "群馬県"),
            ("Saitama", "埼玉県"),
            ("Chiba", "千葉県"),
            ("Tokyo", "東京都"),
            ("Kanagawa", "神奈川県"),
            ("Niigata", "新潟県"),
            ("Toyama", "富山県"),
            ("Ishikawa", "石川県"),
            ("Fukui", "福井県"),
            ("Yamanashi", "山梨県"),
            ("Nagano", "長野県"),
            ("Gifu", "岐阜県"),
            ("Shizuoka", "静岡県"),
            ("Aichi", "愛知県"),
            ("Mie", "三重県"),
            ("Shiga", "滋賀県"),
            ("Kyoto", "京都府"),
            ("Osaka", "大阪府"),
            ("Hyogo", "兵庫県"),
            ("Nara", "奈良県"),
            ("Wakayama", "和歌山県"),
            ("Tottori", "鳥取県"),
            ("Shimane", "島根県"),
            ("Okayama", "岡山県"),
            ("Hiroshima", "広島県"),
            ("Yamaguchi", "山口県"),
            ("Tokushima", "徳島県"),
            ("Kagawa", "香川県"),
            ("Ehime", "愛媛県"),
            ("Kochi", "高知県"),
            ("Fukuoka", "福岡県"),
            ("Saga", "佐賀県"),
            ("Nagasaki", "長崎県"),
            ("Kumamoto", "熊本県"),
            ("Oita", "大分県"),
            ("Miyazaki", "宮崎県"),
            ("Kagoshima", "鹿児島県"),
            ("Okinawa", "沖縄県"),
        ],
        start=1,
    )
)

_BY_JIS = {p.jis_code: p for p in PREFECTURES}
_BY_NAME = {p.name_en.casefold(): p for p in PREFECTURES}
_CODE = re.compile(r"^(?:JP-?)?([0-9]{1,2})$", re.IGNORECASE)


def prefecture_for(value: str) -> Prefecture | None:
    """The prefecture a code ("13", "JP-13") or English name ("Tokyo") means, else None."""
    text = value.strip()
    match = _CODE.match(text)
    if match:
        return _BY_JIS.get(f"{int(match.group(1)):02d}")
    return _BY_NAME.get(text.casefold())


def parse_prefecture(value: str, field: str = "prefecture") -> Prefecture:
    if not value.strip():
        raise InvalidArgument("prefecture is required (JIS code 01-47 or JP-01-JP-47)", field=field)
    prefecture = prefecture_for(value)
    if prefecture is None:
        raise InvalidArgument(
            f"unknown prefecture {value[:20]!r}: use a JIS code 01-47 or JP-01-JP-47", field=field
        )
    return prefecture


def parse_postal_code(value: str, field: str = "postal_code") -> str:
    """Seven digits ("100-0001" -> "1000001"); empty stays empty."""
    # NFKC turns full-width digits and hyphens (１００－０００１) into ASCII ones.
    digits = unicodedata.normalize("NFKC", value).replace("-", "").replace("〒", "").strip()
    if not digits:
        return ""
    if len(digits) != 7 or not digits.isascii() or not digits.isdigit():
        raise InvalidArgument("postal_code must be 7 digits, e.g. 100-0001", field=field)
    return digits
