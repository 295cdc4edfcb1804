"""A demo catalog for the local stack: four categories and 24 products with Chinese names and real SKUs."""
from __future__ import annotations

from itertools import product as combinations

from chalicelib.catalog import service

DEMO_ACTOR = "demo"

# category -> [(slug, title, description, base price in fen, {spec name: values})]
DEMO_CATALOG: dict[str, list[tuple[str, str, str, int, dict[str, list[str]]]]] = {
    "服装": [
        ("tee", "纯棉圆领短袖T恤", "100%新疆长绒棉，透气不变形", 5900, {"颜色": ["白", "黑"], "尺码": ["M", "L", "XL"]}),
        ("hoodie", "加绒连帽卫衣", "冬季加厚，宽松版型", 12900, {"颜色": ["灰", "藏青"], "尺码": ["M", "L"]}),
        ("jeans", "直筒修身牛仔裤", "弹力面料，四季可穿", 15900, {"颜色": ["浅蓝", "深蓝"], "尺码": ["29", "31", "33"]}),
        ("down", "轻薄白鸭绒羽绒服", "90%白鸭绒，可收纳", 39900, {"颜色": ["黑", "米白"], "尺码": ["M", "L"]}),
        ("socks", "精梳棉中筒袜五双装", "吸汗防臭", 2990, {"颜色": ["混色", "纯黑"]}),
        ("scarf", "羊毛围巾", "柔软亲肤，保暖", 8900, {"颜色": ["酒红", "燕麦"]}),
    ],
    "数码": [
        ("earbuds", "无线蓝牙耳机", "主动降噪，续航30小时", 29900, {"颜色": ["白", "黑"]}),
        ("powerbank", "20000毫安快充移动电源", "双向快充，可上飞机", 12900, {"颜色": ["白", "黑"], "规格": ["20W", "65W"]}),
        ("charger", "氮化镓65W充电器", "三口同充，小巧便携", 9900, {"规格": ["单头", "套装"]}),
        ("keyboard", "机械键盘青轴", "87键，RGB背光", 25900, {"轴体": ["青轴", "红轴", "茶轴"]}),
        ("mouse", "静音无线鼠标", "人体工学设计", 5900, {"颜色": ["灰", "粉"]}),
        ("watch", "智能运动手环", "心率血氧监测，防水", 19900, {"颜色": ["黑", "蓝"], "规格": ["标准版", "NFC版"]}),
    ],
    "食品": [
        ("tea", "明前龙井绿茶", "杭州西湖产区，清香回甘", 16800, {"规格": ["100克", "250克"]}),
        ("nuts", "每日坚果混合装", "六种坚果果干，独立小包", 6900, {"规格": ["15包", "30包"]}),
        ("coffee", "云南小粒咖啡豆", "中度烘焙，坚果风味", 5800, {"规格": ["250克", "500克"], "研磨": ["豆", "粉"]}),
        ("noodles", "重庆小面速食", "麻辣鲜香，五分钟上桌", 3990, {"口味": ["麻辣", "酸辣"]}),
        ("honey", "野生土蜂蜜", "农家自产，无添加", 7800, {"规格": ["500克", "1000克"]}),
        ("mooncake", "广式莲蓉月饼礼盒", "传统工艺，中秋送礼", 19800, {"规格": ["4只装", "8只装"]}),
    ],
    "家居": [
        ("towel", "长绒棉毛巾三条装", "柔软吸水，不掉毛", 4990, {"颜色": ["白", "灰", "蓝"]}),
        ("pillow", "慢回弹记忆棉枕头", "护颈设计，透气枕套", 12900, {"规格": ["标准", "加高"]}),
        ("mug", "陶瓷马克杯", "大容量，可微波", 3900, {"颜色": ["奶白", "墨绿"]}),
        ("lamp", "护眼LED台灯", "无频闪，三档调光", 15900, {"颜色": ["白", "黑"]}),
        ("blanket", "珊瑚绒毛毯", "加厚保暖，四季可用", 9900, {"尺码": ["150x200", "200x230"]}),
        ("storage", "可折叠收纳箱", "大容量，带盖防尘", 5900, {"规格": ["中号", "大号"]}),
    ],
}


def seed_demo_catalog() -> int:
    """Create the demo catalog unless its first category exists; returns the number of products created."""
    if service.find_category(next(iter(DEMO_CATALOG))) is not None:
        return 0
    created = 0
    for sort, (category_name, products) in enumerate(DEMO_CATALOG.items()):
        category = service.create_category(category_name, sort=sort)
        for slug, title, description, price, spec_values in products:
            service.create_product(title, category.category_id, _skus(slug, price, spec_values),
                                   description=description, images=[_image(slug)], actor=DEMO_ACTOR)
            created += 1
    return created


def _skus(slug: str, base_price: int, spec_values: dict[str, list[str]]) -> list[dict]:
    """One SKU per combination of spec values; later combinations cost a little more, as bigger sizes do."""
    names = list(spec_values)
    return [{"specs": dict(zip(names, values, strict=False)), "price": base_price + 1000 * index, "stock": 50 + 10 * index,
             "image": _image(f"{slug}-{index}")}
            for index, values in enumerate(combinations(*spec_values.values()))]


def _image(seed: str) -> str:
    return f"https://picsum.photos/seed/{seed}/400"
