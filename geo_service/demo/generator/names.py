"""Chinese names for the demo county: towns, villages, people, roads and case descriptions.

The town names are those of Renshou county's real towns and streets; where they lie in the demo
county, and every village, community and person, is synthetic.
"""

from __future__ import annotations

import numpy as np

# (name, kind); streets first, then towns, then townships: the order of their code ranges.
STREETS = ["文林街道", "怀仁街道", "普宁街道", "视高街道"]
TOWNS = [
    "富加镇",
    "汪洋镇",
    "钟祥镇",
    "龙正镇",
    "宝飞镇",
    "禾加镇",
    "清水镇",
    "黑龙滩镇",
    "北斗镇",
    "方家镇",
    "始建镇",
    "新店镇",
    "籍田镇",
    "慈航镇",
    "珠嘉镇",
    "龙桥镇",
    "满井镇",
    "大化镇",
    "贵平镇",
    "中农镇",
    "高家镇",
    "彰加镇",
    "曹家镇",
    "兴盛镇",
]
TOWNSHIPS = ["板燕乡", "联合乡"]

# Two-character stems of village names, typical of the Sichuan basin's hills.
_VILLAGE_FIRST = list(
    "龙凤石桥双新高黄白青金马红光华永安太平长乐水清河松柏桂竹梅兴福寿和顺天宝玉丰瑞德仁义礼云鹤狮虎牛草茶杨柳田林"
)
_VILLAGE_SECOND = list("泉山湾坝沟桥河湖岭坪林庙寺堰塘池井冲岗垭坡田岩树花园家场铺店")
_COMMUNITY_STEMS = [
    "东街",
    "西街",
    "南街",
    "北街",
    "书院",
    "陵州",
    "迎宾",
    "滨河",
    "新区",
    "花园",
    "文化",
    "金鹰",
    "府城",
    "东湖",
    "西湖",
    "南湖",
    "城北",
    "城南",
    "城东",
    "城西",
    "春风",
    "华阳",
    "体育",
    "鹿溪",
    "仁和",
    "怀远",
    "太平",
    "正街",
    "新街",
    "老街",
    "车站",
    "工业",
    "学府",
    "锦城",
    "凤凰",
    "清风",
    "金桥",
    "银杏",
    "桂花",
    "玉兰",
    "紫薇",
    "滨湖",
    "龙腾",
    "和平",
    "光明",
    "幸福",
    "团结",
    "民主",
    "友谊",
    "建设",
    "振兴",
    "育才",
    "龙井",
    "大石",
    "黑龙",
    "正兴",
    "天星",
    "兴隆",
    "永兴",
    "红旗",
]

SURNAMES = list("李王张刘陈杨黄周吴罗何邓曾谢唐袁赵徐孙胡郭林彭冯蒋余杜叶程苏魏吕丁任沈姚卢钟汪田董廖向龚")
_SURNAME_WEIGHTS = np.linspace(3.0, 0.6, len(SURNAMES))
MALE_CHARS = list("伟强军勇杰斌涛明超刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林洋志国建文成东海兵德峰")
FEMALE_CHARS = list("芳娟敏静丽艳霞燕玲婷雪琴慧红梅莉兰英萍倩蓉琳欢悦颖佳秀丹宁晶洁月凤翠")

PHONE_PREFIXES = [
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "157",
    "158",
    "159",
    "170",
    "173",
    "177",
    "180",
    "181",
    "182",
    "183",
    "187",
    "188",
    "189",
    "191",
    "199",
]


def village_stems(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct two-character village stems."""
    pool = [a + b for a in _VILLAGE_FIRST for b in _VILLAGE_SECOND if a != b]
    order = rng.permutation(len(pool))
    return [pool[i] for i in order[:n]]


def community_stems(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct community stems (the list first, then generated ones)."""
    stems = [_COMMUNITY_STEMS[i] for i in rng.permutation(len(_COMMUNITY_STEMS))]
    extra = [a + b for a in "金玉锦华新文明" for b in "苑城都阳辉秀岸"]
    stems += [extra[i] for i in rng.permutation(len(extra))]
    if n > len(stems):
        raise ValueError("not enough community names")
    return stems[:n]


def person_names(rng: np.random.Generator, n: int, female: np.ndarray | None = None):
    """``n`` names (surname plus one or two given characters) and their genders."""
    if female is None:
        female = rng.random(n) < 0.42
    p = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    sur = rng.choice(len(SURNAMES), size=n, p=p)
    two = rng.random(n) < 0.72
    g1m = rng.integers(0, len(MALE_CHARS), n)
    g2m = rng.integers(0, len(MALE_CHARS), n)
    g1f = rng.integers(0, len(FEMALE_CHARS), n)
    g2f = rng.integers(0, len(FEMALE_CHARS), n)
    names = []
    for i in range(n):
        chars = FEMALE_CHARS if female[i] else MALE_CHARS
        a, b = (g1f[i], g2f[i]) if female[i] else (g1m[i], g2m[i])
        given = chars[a] + (chars[b] if two[i] else "")
        names.append(SURNAMES[sur[i]] + given)
    return names, np.where(female, "F", "M")


def phones(rng: np.random.Generator, n: int, unique: bool = True) -> list[str]:
    """Synthetic 11-digit mobile numbers."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        k = (n - len(out)) * 2 if unique else n
        pre = rng.integers(0, len(PHONE_PREFIXES), k)
        rest = rng.integers(0, 100_000_000, k)
        for a, b in zip(pre, rest):
            s = f"{PHONE_PREFIXES[a]}{b:08d}"
            if unique:
                if s in seen:
                    continue
                seen.add(s)
            out.append(s)
            if len(out) == n:
                break
    return out


# Case description templates per category; {p} is a place (village or community), {r} a road.
DESCRIPTIONS = {
    "public_service": [
        "{p}垃圾清运不及时，群众反映异味较大",
        "{p}路灯损坏，夜间出行不便",
        "{r}路面破损坑洼，需修补",
        "{p}居民咨询城乡居民医保缴费事宜",
        "{p}老人申请高龄补贴，协助办理",
        "{p}自来水停水，群众询问恢复时间",
        "{p}下水道堵塞，污水外溢",
        "{r}占道经营，影响通行",
        "{p}协助困难群众申请临时救助",
        "{p}小区绿化带被毁，需补种",
        "{p}居民反映噪音扰民",
        "{p}协助办理居住证明",
    ],
    "publicity_education": [
        "{p}开展防电信诈骗宣传",
        "{p}入户宣传森林防火知识",
        "{p}张贴禁毒宣传海报",
        "{p}开展防溺水安全教育",
        "{p}宣传医保政策",
        "{p}开展反邪教宣传",
        "{p}组织群众学习民法典",
    ],
    "security_hazard": [
        "{p}发现电动车楼道充电，存在火灾隐患",
        "{p}自建房墙体开裂，存在安全隐患",
        "{r}护栏缺失，存在交通安全隐患",
        "{p}燃气管道老化，存在泄漏风险",
        "{p}山坡出现裂缝，有滑坡隐患",
        "{p}废弃鱼塘无防护，存在溺水隐患",
        "{p}出租屋人员信息未登记",
    ],
    "dispute": [
        "{p}邻里因宅基地边界发生纠纷",
        "{p}两户因排水问题发生争执",
        "{p}农民工讨要工资",
        "{p}家庭赡养纠纷",
        "{p}土地流转租金纠纷",
        "{p}物业费纠纷",
        "{r}交通事故赔偿纠纷",
    ],
    "emergency": [
        "{p}民房起火，已报消防",
        "{r}发生交通事故，有人员受伤",
        "{p}暴雨致道路积水",
        "{p}老人走失，家属求助",
        "{p}山体小规模垮塌，阻断道路",
    ],
    "instability": [
        "{p}群众拟集体上访反映征地补偿",
        "{p}重点人员情绪异常，需关注",
        "{p}多名业主聚集反映房屋质量问题",
        "{p}企业拖欠货款，供应商聚集",
    ],
    "other": [
        "{p}群众咨询政策",
        "{p}流浪犬伤人隐患",
        "{p}群众反映其他事项",
        "{r}广告牌松动",
    ],
}
