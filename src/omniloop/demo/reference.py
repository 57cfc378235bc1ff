"""Reference data (参考数据) for the demo bank: places, administrative division codes, names, phone prefixes.

Everything here is public knowledge: Zhejiang's cities and districts with their GB/T 2260 division codes
(the first six digits of a resident ID number), the common Chinese surnames with rough frequencies, and
the mobile number prefixes of the three carriers. The bank itself, 之江银行, is fictional.
"""

from __future__ import annotations

BANK_NAME = "之江银行"
BANK_NAME_EN = "Zhijiang Bank"
HEAD_OFFICE_CODE = "ZJ0000"

# (city, pinyin, customer weight, [(district, pinyin, division code)]). Weights follow the cities'
# economic size, so Hangzhou and Ningbo hold most customers, as they would for a bank based there.
BRANCHES: list[tuple[str, str, float, list[tuple[str, str, str]]]] = [
    ("杭州", "Hangzhou", 0.30, [
        ("西湖", "Xihu", "330106"), ("上城", "Shangcheng", "330102"), ("拱墅", "Gongshu", "330105"),
        ("滨江", "Binjiang", "330108"), ("萧山", "Xiaoshan", "330109"), ("余杭", "Yuhang", "330110"),
        ("富阳", "Fuyang", "330111"), ("临安", "Lin'an", "330112"), ("临平", "Linping", "330113"),
        ("钱塘", "Qiantang", "330114"), ("桐庐", "Tonglu", "330122"), ("建德", "Jiande", "330182"),
    ]),
    ("宁波", "Ningbo", 0.20, [
        ("海曙", "Haishu", "330203"), ("江北", "Jiangbei", "330205"), ("北仑", "Beilun", "330206"),
        ("镇海", "Zhenhai", "330211"), ("鄞州", "Yinzhou", "330212"), ("奉化", "Fenghua", "330213"),
        ("余姚", "Yuyao", "330281"), ("慈溪", "Cixi", "330282"), ("宁海", "Ninghai", "330226"),
    ]),
    ("温州", "Wenzhou", 0.12, [
        ("鹿城", "Lucheng", "330302"), ("龙湾", "Longwan", "330303"), ("瓯海", "Ouhai", "330304"),
        ("瑞安", "Rui'an", "330381"), ("乐清", "Yueqing", "330382"), ("永嘉", "Yongjia", "330324"),
        ("苍南", "Cangnan", "330327"),
    ]),
    ("绍兴", "Shaoxing", 0.08, [
        ("越城", "Yuecheng", "330602"), ("柯桥", "Keqiao", "330603"), ("上虞", "Shangyu", "330604"),
        ("诸暨", "Zhuji", "330681"), ("嵊州", "Shengzhou", "330683"), ("新昌", "Xinchang", "330624"),
    ]),
    ("嘉兴", "Jiaxing", 0.08, [
        ("南湖", "Nanhu", "330402"), ("秀洲", "Xiuzhou", "330411"), ("海宁", "Haining", "330481"),
        ("平湖", "Pinghu", "330482"), ("桐乡", "Tongxiang", "330483"), ("嘉善", "Jiashan", "330421"),
        ("海盐", "Haiyan", "330424"),
    ]),
    ("湖州", "Huzhou", 0.05, [
        ("吴兴", "Wuxing", "330502"), ("南浔", "Nanxun", "330503"), ("德清", "Deqing", "330521"),
        ("长兴", "Changxing", "330522"), ("安吉", "Anji", "330523"),
    ]),
    ("金华", "Jinhua", 0.09, [
        ("婺城", "Wucheng", "330702"), ("金东", "Jindong", "330703"), ("义乌", "Yiwu", "330782"),
        ("东阳", "Dongyang", "330783"), ("永康", "Yongkang", "330784"), ("兰溪", "Lanxi", "330781"),
        ("浦江", "Pujiang", "330726"),
    ]),
    ("台州", "Taizhou", 0.08, [
        ("椒江", "Jiaojiang", "331002"), ("黄岩", "Huangyan", "331003"), ("路桥", "Luqiao", "331004"),
        ("临海", "Linhai", "331082"), ("温岭", "Wenling", "331081"), ("玉环", "Yuhuan", "331083"),
        ("天台", "Tiantai", "331023"),
    ]),
]

# Birthplaces of customers who moved to Zhejiang (a quarter of them): districts of other provinces.
MIGRANT_DIVISIONS = [
    "340104", "340302", "341202", "360102", "360403", "410105", "411302", "430102", "431102",
    "320106", "320506", "310104", "310115", "510107", "420106", "350102", "350203", "370102",
    "220102", "230103", "450103", "520102", "530102", "610113", "110105", "120101", "130102",
]

# Common surnames, Zhejiang-flavoured, with relative weights (per mille of the population, rounded).
SURNAMES: list[tuple[str, float]] = [
    ("王", 71), ("陈", 68), ("张", 60), ("李", 58), ("刘", 40), ("徐", 30), ("吴", 30), ("周", 28),
    ("杨", 25), ("黄", 22), ("朱", 18), ("胡", 18), ("金", 16), ("沈", 15), ("赵", 15), ("孙", 14),
    ("郑", 14), ("林", 14), ("叶", 13), ("潘", 12), ("方", 12), ("何", 11), ("钱", 10), ("马", 10),
    ("蒋", 10), ("俞", 9), ("章", 9), ("楼", 8), ("应", 8), ("郭", 8), ("高", 8), ("汪", 8),
    ("毛", 7), ("陆", 7), ("姚", 7), ("许", 7), ("邵", 6), ("洪", 6), ("施", 6), ("戴", 6),
    ("袁", 6), ("罗", 6), ("丁", 6), ("韩", 5), ("冯", 5), ("曹", 5), ("梁", 5), ("谢", 5),
    ("宋", 5), ("唐", 5), ("邓", 4), ("彭", 4), ("曾", 4), ("范", 4), ("程", 4), ("蔡", 4),
    ("余", 4), ("杜", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("任", 4), ("卢", 3), ("姜", 3),
    ("崔", 3), ("钟", 3), ("谭", 3), ("石", 3), ("贾", 3), ("夏", 3), ("付", 3), ("孔", 3),
    ("严", 3), ("顾", 3), ("董", 3), ("鲍", 3), ("虞", 3), ("屠", 2), ("柴", 2), ("童", 2),
    ("葛", 2), ("倪", 2), ("詹", 2), ("傅", 2), ("翁", 2), ("骆", 2), ("裘", 1), ("欧阳", 1),
    ("诸葛", 0.3), ("司马", 0.2), ("上官", 0.2),
]

# Given-name characters by gender and generation: names follow fashions (建国 in the 1950s, 子轩 now).
GIVEN_CHARS: dict[tuple[str, str], str] = {
    ("M", "old"): "建国伟军明华平强勇刚林海东志文德福荣生祥忠兴昌富根宝庆春金水龙发成良",
    ("M", "mid"): "伟强磊军勇杰涛斌超明刚辉鹏华飞鑫波宇浩凯健俊帆旭宁峰晨博亮宏毅斌锋剑晖立骏",
    ("M", "young"): "子轩宇浩泽昊天一嘉俊睿哲翔然博文铭航宸皓逸辰煜奕晨恒泽阳瑞锦诚楷",
    ("F", "old"): "秀英桂兰芳红梅玉珍凤华美娟萍琴丽霞芬云莲菊月仙爱素彩香花",
    ("F", "mid"): "芳娜敏静丽艳娟霞燕萍红婷雪琳颖倩洁慧晶莉丹蓉欣怡佳琴佩瑜琼玲",
    ("F", "young"): "欣怡佳琪悦彤涵萱雨诗梦雅晓思可婧璐瑶梓一诺妍语汐若依馨然予安",
}

# Mobile prefixes (China Mobile, Unicom, Telecom) with weights; older 13x numbers are the most common.
MOBILE_PREFIXES: list[tuple[str, float]] = (
    [(f"13{d}", 6.0) for d in range(10)]
    + [(p, 4.0) for p in ("150", "151", "152", "153", "155", "156", "157", "158", "159")]
    + [(p, 4.0) for p in ("180", "181", "182", "183", "184", "185", "186", "187", "188", "189")]
    + [(p, 2.0) for p in ("177", "176", "173", "175", "178", "166", "147", "145")]
    + [(p, 1.5) for p in ("191", "193", "195", "198", "199")]
)

# Pieces of corporate names: city + trade name (字号) + industry + legal form.
TRADE_NAMES = [
    "恒达", "华信", "鑫源", "天成", "宏远", "正泰", "新盛", "永安", "博远", "海纳", "瑞丰", "金鼎", "万通", "联创", "汇通", "东方",
    "中兴", "嘉禾", "盛世", "通达", "凯旋", "明辉", "同创", "信和", "荣昌", "佳美", "世纪", "安顺", "百川", "长城", "远航", "星辰",
    "飞跃", "元亨", "德润", "和信", "锦程", "天瑞", "弘毅", "诚泰", "兴业", "聚源", "华美", "大成", "润发", "立新", "之光", "钱江",
    "西子", "越秀"
]
INDUSTRIES = [
    "科技", "贸易", "实业", "建设", "物流", "电子", "纺织", "食品", "机械", "医药", "餐饮", "服饰", "化工", "五金", "家居", "汽车配件",
    "包装", "印染", "电器", "新材料", "网络科技", "供应链", "建材", "环保", "文化传媒", "农业开发"
]
LEGAL_FORMS = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司"]
