// UI strings in English, Chinese, Japanese and German; the page's own words only (answers and
// passages keep the language they were written in). Language names come from Intl.DisplayNames,
// so every answer language is named in the reader's language without a table here.

export const UI_LANGUAGES = ["en", "zh", "ja", "de"];

const STRINGS = {
  en: {
    "nav.skip": "Skip to content", 
    "app.tagline": "Ask, search and write in your language, over knowledge in any language",
    "nav.ask": "Ask", "nav.chat": "Chat", "nav.search": "Search", "nav.write": "Write",
    "nav.kb": "Knowledge base",
    "kbinfo.chunks": "{n} passages from {files} files", "kbinfo.embedder": "Embedder", "kbinfo.languages": "Languages",
    "kbinfo.sources": "Documents", "kbinfo.more": "… and {n} more", "kbinfo.empty": "This knowledge base is empty.",
    "upload.title": "Add documents", "upload.hint": "Text, Markdown, HTML, PDF or JSON Lines, in any language. A file uploaded again replaces its earlier version.",
    "upload.files": "Files", "upload.target": "Into knowledge base", "upload.submit": "Upload and ingest",
    "upload.working": "Uploading and ingesting…",
    "upload.done": "{added} added, {updated} updated, {unchanged} unchanged, {failed} failed; {chunks} passages embedded.",
    "upload.failed": "Not ingested",
    "kb.label": "Knowledge base", "kb.none": "no knowledge base yet",
    "lang.label": "Answer language", "lang.auto": "Auto (the question's language)",
    "ui.label": "Interface language",
    "key.label": "API key", "key.save": "Save", "key.clear": "Forget",
    "key.needed": "This server needs an API key. Enter it below; it stays in this browser only.",
    "key.saved": "API key saved in this browser.",
    "ask.label": "Your question, in any language", "ask.placeholder": "绿茶应该用多少度的水冲泡？",
    "ask.submit": "Ask", "ask.stop": "Stop",
    "ask.searching": "Searching the knowledge base…", "ask.generating": "Writing the answer…",
    "ask.checking": "Checking each sentence against its sources…",
    "ask.answered_in": "Answer in {lang}", "ask.forced": "(chosen)", "ask.auto": "(the question's language)",
    "ask.no_answer": "No answer in the knowledge base",
    "ask.sources": "Sources", "ask.time_total": "{s} s", "ask.time_search": "search {s} s", "ask.time_generate": "generation {s} s",
    "ask.translations": "Also searched as",
    "search.label": "Search the knowledge base", "search.placeholder": "Wie hoch sind die Türme des Kölner Doms?",
    "search.submit": "Search", "search.k": "Results", "search.none": "Nothing found.",
    "search.count": "{n} passages", "search.open": "Open passage",
    "search.translated": "machine translation from {lang} ({by})", "search.also_in": "also in: {langs}",
    "chat.sessions": "Sessions", "chat.new": "New session", "chat.delete": "Delete session",
    "chat.delete_confirm": "Delete this session and its history?",
    "chat.empty": "No saved sessions yet.", "chat.start": "Ask a first question to start the conversation.",
    "chat.label": "Message", "chat.send": "Send", "chat.you": "You", "chat.assistant": "babelrag",
    "chat.turns": "{n} turns", "chat.untitled": "New conversation", "chat.searched_as": "searched as",
    "write.label": "Your draft (Markdown or plain text, any language)",
    "write.placeholder": "# 绿茶\n\n我喜欢喝绿茶，但常常泡得很苦。",
    "write.factor": "Target length", "write.submit": "Add background",
    "write.working": "Finding background and writing additions…",
    "write.keep": "Keep", "write.reject": "Reject", "write.kept": "kept", "write.rejected": "rejected",
    "write.addition": "Addition {n}", "write.download_md": "Download Markdown",
    "write.download_txt": "Download text", "write.result": "Result",
    "write.unchanged": "Nothing was added.", "write.summary": "{kept} of {total} additions kept",
    "passage.title": "Cited passage", "passage.source": "Source", "passage.lang": "Language",
    "passage.score": "Similarity", "passage.close": "Close", "passage.context": "Section",
    "error.generic": "Something went wrong: {message}", "error.network": "The server cannot be reached.",
    "error.busy": "The server is busy; try again in {s} s.",
  },
  zh: {
    "nav.skip": "跳到正文", 
    "app.tagline": "用你的语言提问、检索和写作，知识可以是任何语言",
    "nav.ask": "提问", "nav.chat": "对话", "nav.search": "检索", "nav.write": "写作",
    "nav.kb": "知识库",
    "kbinfo.chunks": "{files} 个文件，共 {n} 个段落", "kbinfo.embedder": "嵌入模型", "kbinfo.languages": "语言",
    "kbinfo.sources": "文档", "kbinfo.more": "……另有 {n} 个", "kbinfo.empty": "这个知识库是空的。",
    "upload.title": "添加文档", "upload.hint": "纯文本、Markdown、HTML、PDF 或 JSON Lines，任何语言均可。再次上传同名文件会替换旧版本。",
    "upload.files": "文件", "upload.target": "目标知识库", "upload.submit": "上传并导入",
    "upload.working": "正在上传并导入…",
    "upload.done": "新增 {added} 个，更新 {updated} 个，未变 {unchanged} 个，失败 {failed} 个；嵌入了 {chunks} 个段落。",
    "upload.failed": "未能导入",
    "kb.label": "知识库", "kb.none": "还没有知识库",
    "lang.label": "回答语言", "lang.auto": "自动（与问题相同）",
    "ui.label": "界面语言",
    "key.label": "API 密钥", "key.save": "保存", "key.clear": "清除",
    "key.needed": "此服务器需要 API 密钥。请在下方输入；它只保存在本浏览器中。",
    "key.saved": "API 密钥已保存在本浏览器中。",
    "ask.label": "你的问题（任何语言）", "ask.placeholder": "绿茶应该用多少度的水冲泡？",
    "ask.submit": "提问", "ask.stop": "停止",
    "ask.searching": "正在检索知识库…", "ask.generating": "正在生成回答…",
    "ask.checking": "正在逐句核对出处…",
    "ask.answered_in": "回答语言：{lang}", "ask.forced": "（手动选择）", "ask.auto": "（与问题相同）",
    "ask.no_answer": "知识库中没有答案",
    "ask.sources": "来源", "ask.time_total": "共 {s} 秒", "ask.time_search": "检索 {s} 秒", "ask.time_generate": "生成 {s} 秒",
    "ask.translations": "同时检索了",
    "search.label": "检索知识库", "search.placeholder": "科隆大教堂的塔有多高？",
    "search.submit": "检索", "search.k": "结果数", "search.none": "没有找到。",
    "search.count": "{n} 个段落", "search.open": "查看段落",
    "search.translated": "机器翻译，原文为{lang}（{by}）", "search.also_in": "其他语言版本：{langs}",
    "chat.sessions": "会话", "chat.new": "新会话", "chat.delete": "删除会话",
    "chat.delete_confirm": "删除此会话及其历史记录？",
    "chat.empty": "还没有保存的会话。", "chat.start": "提出第一个问题，开始对话。",
    "chat.label": "消息", "chat.send": "发送", "chat.you": "你", "chat.assistant": "babelrag",
    "chat.turns": "{n} 轮", "chat.untitled": "新对话", "chat.searched_as": "检索为",
    "write.label": "你的草稿（Markdown 或纯文本，任何语言）",
    "write.placeholder": "# 绿茶\n\n我喜欢喝绿茶，但常常泡得很苦。",
    "write.factor": "目标长度", "write.submit": "补充背景",
    "write.working": "正在查找背景并撰写补充内容…",
    "write.keep": "保留", "write.reject": "拒绝", "write.kept": "已保留", "write.rejected": "已拒绝",
    "write.addition": "补充 {n}", "write.download_md": "下载 Markdown",
    "write.download_txt": "下载纯文本", "write.result": "结果",
    "write.unchanged": "没有添加任何内容。", "write.summary": "保留了 {total} 条补充中的 {kept} 条",
    "passage.title": "引用的段落", "passage.source": "出处", "passage.lang": "语言",
    "passage.score": "相似度", "passage.close": "关闭", "passage.context": "章节",
    "error.generic": "出错了：{message}", "error.network": "无法连接服务器。",
    "error.busy": "服务器繁忙，请 {s} 秒后重试。",
  },
  ja: {
    "nav.skip": "本文へ移動", 
    "app.tagline": "自分の言葉で質問・検索・執筆。知識はどの言語でもかまいません",
    "nav.ask": "質問", "nav.chat": "チャット", "nav.search": "検索", "nav.write": "執筆",
    "nav.kb": "ナレッジベース",
    "kbinfo.chunks": "{files} 件のファイル、{n} 件の段落", "kbinfo.embedder": "埋め込みモデル", "kbinfo.languages": "言語",
    "kbinfo.sources": "文書", "kbinfo.more": "…ほか {n} 件", "kbinfo.empty": "このナレッジベースは空です。",
    "upload.title": "文書を追加", "upload.hint": "テキスト、Markdown、HTML、PDF、JSON Lines（どの言語でも）。同じ名前で再アップロードすると以前の版を置き換えます。",
    "upload.files": "ファイル", "upload.target": "追加先のナレッジベース", "upload.submit": "アップロードして取り込む",
    "upload.working": "アップロードして取り込んでいます…",
    "upload.done": "追加 {added} 件、更新 {updated} 件、変更なし {unchanged} 件、失敗 {failed} 件。{chunks} 件の段落を埋め込みました。",
    "upload.failed": "取り込めなかったファイル",
    "kb.label": "ナレッジベース", "kb.none": "ナレッジベースがまだありません",
    "lang.label": "回答の言語", "lang.auto": "自動（質問と同じ言語）",
    "ui.label": "表示言語",
    "key.label": "API キー", "key.save": "保存", "key.clear": "削除",
    "key.needed": "このサーバーには API キーが必要です。下に入力してください。このブラウザーにのみ保存されます。",
    "key.saved": "API キーをこのブラウザーに保存しました。",
    "ask.label": "質問（どの言語でも）", "ask.placeholder": "緑茶は何度のお湯で淹れればいいですか？",
    "ask.submit": "質問する", "ask.stop": "停止",
    "ask.searching": "ナレッジベースを検索しています…", "ask.generating": "回答を作成しています…",
    "ask.checking": "各文の出典を確認しています…",
    "ask.answered_in": "回答の言語：{lang}", "ask.forced": "（選択）", "ask.auto": "（質問と同じ）",
    "ask.no_answer": "ナレッジベースに回答がありません",
    "ask.sources": "出典", "ask.time_total": "合計 {s} 秒", "ask.time_search": "検索 {s} 秒", "ask.time_generate": "生成 {s} 秒",
    "ask.translations": "次の訳でも検索",
    "search.label": "ナレッジベースを検索", "search.placeholder": "ケルン大聖堂の塔の高さは？",
    "search.submit": "検索", "search.k": "件数", "search.none": "見つかりませんでした。",
    "search.count": "{n} 件の段落", "search.open": "段落を開く",
    "search.translated": "{lang}からの機械翻訳（{by}）", "search.also_in": "他の言語: {langs}",
    "chat.sessions": "セッション", "chat.new": "新しいセッション", "chat.delete": "セッションを削除",
    "chat.delete_confirm": "このセッションと履歴を削除しますか？",
    "chat.empty": "保存されたセッションはまだありません。", "chat.start": "最初の質問で会話を始めましょう。",
    "chat.label": "メッセージ", "chat.send": "送信", "chat.you": "あなた", "chat.assistant": "babelrag",
    "chat.turns": "{n} 往復", "chat.untitled": "新しい会話", "chat.searched_as": "検索語",
    "write.label": "下書き（Markdown またはテキスト、どの言語でも）",
    "write.placeholder": "# 緑茶\n\n緑茶が好きですが、よく苦くなってしまいます。",
    "write.factor": "目標の長さ", "write.submit": "背景を追加",
    "write.working": "背景を探して追記を作成しています…",
    "write.keep": "残す", "write.reject": "却下", "write.kept": "採用", "write.rejected": "却下済み",
    "write.addition": "追記 {n}", "write.download_md": "Markdown をダウンロード",
    "write.download_txt": "テキストをダウンロード", "write.result": "結果",
    "write.unchanged": "追加されたものはありません。", "write.summary": "{total} 件中 {kept} 件の追記を採用",
    "passage.title": "引用された段落", "passage.source": "出典", "passage.lang": "言語",
    "passage.score": "類似度", "passage.close": "閉じる", "passage.context": "節",
    "error.generic": "エラーが発生しました：{message}", "error.network": "サーバーに接続できません。",
    "error.busy": "サーバーが混み合っています。{s} 秒後にもう一度お試しください。",
  },
  de: {
    "nav.skip": "Zum Inhalt springen", 
    "app.tagline": "Fragen, suchen und schreiben in Ihrer Sprache – über Wissen in jeder Sprache",
    "nav.ask": "Fragen", "nav.chat": "Chat", "nav.search": "Suchen", "nav.write": "Schreiben",
    "nav.kb": "Wissensdatenbank",
    "kbinfo.chunks": "{n} Passagen aus {files} Dateien", "kbinfo.embedder": "Embedding-Modell", "kbinfo.languages": "Sprachen",
    "kbinfo.sources": "Dokumente", "kbinfo.more": "… und {n} weitere", "kbinfo.empty": "Diese Wissensdatenbank ist leer.",
    "upload.title": "Dokumente hinzufügen", "upload.hint": "Text, Markdown, HTML, PDF oder JSON Lines, in jeder Sprache. Eine erneut hochgeladene Datei ersetzt ihre frühere Fassung.",
    "upload.files": "Dateien", "upload.target": "In die Wissensdatenbank", "upload.submit": "Hochladen und einlesen",
    "upload.working": "Wird hochgeladen und eingelesen …",
    "upload.done": "{added} neu, {updated} aktualisiert, {unchanged} unverändert, {failed} fehlgeschlagen; {chunks} Passagen eingebettet.",
    "upload.failed": "Nicht eingelesen",
    "kb.label": "Wissensdatenbank", "kb.none": "noch keine Wissensdatenbank",
    "lang.label": "Antwortsprache", "lang.auto": "Automatisch (Sprache der Frage)",
    "ui.label": "Sprache der Oberfläche",
    "key.label": "API-Schlüssel", "key.save": "Speichern", "key.clear": "Vergessen",
    "key.needed": "Dieser Server verlangt einen API-Schlüssel. Geben Sie ihn unten ein; er bleibt nur in diesem Browser.",
    "key.saved": "API-Schlüssel in diesem Browser gespeichert.",
    "ask.label": "Ihre Frage, in jeder Sprache", "ask.placeholder": "Wie heiß sollte das Wasser für grünen Tee sein?",
    "ask.submit": "Fragen", "ask.stop": "Anhalten",
    "ask.searching": "Die Wissensdatenbank wird durchsucht …", "ask.generating": "Die Antwort wird geschrieben …",
    "ask.checking": "Jeder Satz wird mit seinen Quellen abgeglichen …",
    "ask.answered_in": "Antwort auf {lang}", "ask.forced": "(gewählt)", "ask.auto": "(Sprache der Frage)",
    "ask.no_answer": "Keine Antwort in der Wissensdatenbank",
    "ask.sources": "Quellen", "ask.time_total": "{s} s", "ask.time_search": "Suche {s} s", "ask.time_generate": "Generierung {s} s",
    "ask.translations": "Auch gesucht als",
    "search.label": "Die Wissensdatenbank durchsuchen", "search.placeholder": "Wie hoch sind die Türme des Kölner Doms?",
    "search.submit": "Suchen", "search.k": "Treffer", "search.none": "Nichts gefunden.",
    "search.count": "{n} Passagen", "search.open": "Passage öffnen",
    "search.translated": "Maschinelle Übersetzung aus {lang} ({by})", "search.also_in": "auch auf: {langs}",
    "chat.sessions": "Sitzungen", "chat.new": "Neue Sitzung", "chat.delete": "Sitzung löschen",
    "chat.delete_confirm": "Diese Sitzung mit ihrem Verlauf löschen?",
    "chat.empty": "Noch keine gespeicherten Sitzungen.", "chat.start": "Stellen Sie eine erste Frage, um das Gespräch zu beginnen.",
    "chat.label": "Nachricht", "chat.send": "Senden", "chat.you": "Sie", "chat.assistant": "babelrag",
    "chat.turns": "{n} Runden", "chat.untitled": "Neues Gespräch", "chat.searched_as": "gesucht als",
    "write.label": "Ihr Entwurf (Markdown oder Text, jede Sprache)",
    "write.placeholder": "# Grüner Tee\n\nIch trinke gern grünen Tee, aber er wird oft bitter.",
    "write.factor": "Ziellänge", "write.submit": "Hintergrund ergänzen",
    "write.working": "Hintergrund wird gesucht und Ergänzungen werden geschrieben …",
    "write.keep": "Behalten", "write.reject": "Verwerfen", "write.kept": "behalten", "write.rejected": "verworfen",
    "write.addition": "Ergänzung {n}", "write.download_md": "Als Markdown herunterladen",
    "write.download_txt": "Als Text herunterladen", "write.result": "Ergebnis",
    "write.unchanged": "Nichts wurde ergänzt.", "write.summary": "{kept} von {total} Ergänzungen behalten",
    "passage.title": "Zitierte Passage", "passage.source": "Quelle", "passage.lang": "Sprache",
    "passage.score": "Ähnlichkeit", "passage.close": "Schließen", "passage.context": "Abschnitt",
    "error.generic": "Etwas ist schiefgegangen: {message}", "error.network": "Der Server ist nicht erreichbar.",
    "error.busy": "Der Server ist ausgelastet; bitte in {s} s erneut versuchen.",
  },
};

let current = "en";

/** The UI language for a BCP 47 tag such as "zh-CN" or "de-AT" (English if not one of ours). */
export function pickLanguage(tags) {
  for (const tag of tags) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (UI_LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function setLanguage(lang) {
  current = UI_LANGUAGES.includes(lang) ? lang : "en";
  document.documentElement.lang = current === "zh" ? "zh-Hans" : current;
  return current;
}

export function language() {
  return current;
}

/** The string ``key`` in the UI language, with ``{name}`` placeholders filled from ``vars``. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** A language code ("zh", "de") named in the UI language: "中文", "Deutsch", "German". */
export function languageName(code) {
  if (!code || code === "und") return "—";
  try {
    return new Intl.DisplayNames([current], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** The lang attribute for text in language ``code`` (Chinese passages are Simplified here). */
export function langAttribute(code) {
  if (!code || code === "und") return "";
  return code === "zh" ? "zh-Hans" : code;
}

/** Fill every element marked data-i18n (text), data-i18n-placeholder, data-i18n-aria-label, data-i18n-title. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

export const _strings = STRINGS; // for the tests: every language has every key
